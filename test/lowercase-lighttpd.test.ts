/**
 * server.force-lowercase-filenames = "enable" under lighttpd 1.4.69 and koa-lighty, same
 * config, same document root: files are looked up with the path in lower case (the document
 * root keeps its case), suffix rules on the file path see the lower-cased path
 * (exclude-extensions, the `.php` key, mimetype.assign), url.access-deny and alias.url compare
 * without case, and PHP sees SCRIPT_NAME as requested, SCRIPT_FILENAME in lower case.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { bothForFile, seen } from './helpers/same-conf.js';

// Upper case in the root's own name: lighttpd never lower-cases the document root.
const root = mkdtempSync(join(tmpdir(), 'koa-lighty-Lower-'));
const ENV_PHP = `<?php
header('Content-Type: application/json');
$keys = ['SCRIPT_NAME', 'SCRIPT_FILENAME', 'PATH_INFO', 'PATH_TRANSLATED', 'REQUEST_URI', 'DOCUMENT_ROOT'];
echo json_encode(array_map(fn ($k) => $_SERVER[$k] ?? null, array_combine($keys, $keys)));
`;
const files: Record<string, string> = {
  'image.jpg': 'a picture\n',
  'page.txt': 'a page\n',
  'Upper.TXT': 'only reachable by its exact name, which lower-casing never produces\n',
  'secret.inc': 'secret\n',
  'env.php': ENV_PHP,
  'dir/index.php': ENV_PHP,
  'excl/image.jpg': 'excluded picture\n',
  'aliased/a.txt': 'from the alias\n',
};
for (const [name, content] of Object.entries(files)) {
  mkdirSync(join(root, name, '..'), { recursive: true });
  writeFileSync(join(root, name), content);
}

const conf = (sockdir: string) => `
server.document-root = "${root}"
server.modules = ("mod_access", "mod_alias", "mod_fastcgi")
server.tag = "lighttpd/1.4.69"
server.force-lowercase-filenames = "enable"
index-file.names = ("index.php", "index.html")
mimetype.assign = (".txt" => "text/plain", ".jpg" => "image/jpeg")
url.access-deny = (".inc")
alias.url = ("/Static/" => "${root}/aliased/")
fastcgi.server = (".php" => ((
  "bin-path" => "/usr/bin/php-cgi",
  "socket" => "${sockdir}/php.socket",
  "max-procs" => 1,
  "bin-environment" => ("PHP_FCGI_CHILDREN" => "1"),
)))
$HTTP["url"] =^ "/excl/" { static-file.exclude-extensions = (".jpg") }
`;

const both = bothForFile(conf, () => rmSync(root, { recursive: true, force: true }));

const paths = [
  // static files: found in lower case, typed by the lower-cased name
  '/IMAGE.JPG',
  '/Image.Jpg',
  '/image.jpg',
  '/PAGE.TXT/extra/Info',
  '/Upper.TXT',
  '/upper.txt',
  // static-file.exclude-extensions sees the lower-cased path: 403
  '/excl/IMAGE.JPG',
  '/excl/image.JPG',
  // url.access-deny without regard to case, before and after the file step
  '/SECRET.INC',
  '/secret.Inc',
  '/Secret.INC/x',
  // PHP: the .php key matches the lower-cased path; PATH_INFO keeps its case only without a query
  '/ENV.PHP',
  '/env.PHP',
  '/Env.Php/Foo/Bar',
  '/ENV.PHP/Foo/Bar?q=1',
  '/env.php/F%20oo',
  '/MISSING.PHP',
  // directories: the redirect keeps the request's spelling; the index file is found below the lower-cased one
  '/DIR',
  '/DIR/',
  '/Dir/?x=1',
  // alias.url prefix without regard to case
  '/STATIC/A.TXT',
  '/static/a.txt',
];

for (const path of paths) {
  test(`GET ${path}: as lighttpd`, async (t) => {
    const [lighttpd, koa] = await both().both(path);
    t.deepEqual(seen(koa), seen(lighttpd));
  });
}

test('the lower-cased file is the one served, and PHP sees both spellings', async (t) => {
  const [, picture] = await both().both('/IMAGE.JPG');
  t.is(picture.status, 200);
  t.is(picture.body.toString(), 'a picture\n');
  const [, php] = await both().both('/Env.Php/Foo/Bar');
  t.like(JSON.parse(php.body.toString()), {
    SCRIPT_NAME: '/Env.Php',
    SCRIPT_FILENAME: `${root}/env.php`,
    PATH_INFO: '/Foo/Bar',
  });
});
