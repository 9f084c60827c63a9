/**
 * url.rewrite-if-not-file at lighttpd's physical step, next to the modules around it, under
 * lighttpd 1.4.69 and koa-lighty on the same config: a `.php` key with check-local off takes
 * its requests at their URL, before the step, so they are not rewritten even when the script
 * is missing; mod_alias listed before mod_rewrite moves the path first, so a file in the alias
 * directory counts as a file.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { rawRequest } from './helpers/http.js';
import { type BothServers, seen, startBoth } from './helpers/same-conf.js';

const root = mkdtempSync(join(tmpdir(), 'koa-lighty-rewrite-physical-'));
const www = join(root, 'www');
const aliased = join(root, 'aliased');
mkdirSync(www);
mkdirSync(aliased);
writeFileSync(
  join(www, 'index.php'),
  `<?php header('Content-Type: text/plain');
echo 'index.php REQUEST_URI=', $_SERVER['REQUEST_URI'], ' PATH_INFO=', $_SERVER['PATH_INFO'] ?? '', "\\n";`,
);
writeFileSync(join(www, 'page.txt'), 'page\n');
writeFileSync(join(aliased, 'in-alias.txt'), 'from the alias directory\n');

const conf = (sockdir: string) => `
server.document-root = "${www}"
server.modules = ("mod_alias", "mod_rewrite", "mod_fastcgi")
mimetype.assign = (".txt" => "text/plain")
alias.url = ( "/static/" => "${aliased}/" )
fastcgi.server = (".php" => ((
  "bin-path" => "/usr/bin/php-cgi",
  "socket" => "${sockdir}/php.socket",
  "max-procs" => 1,
  "bin-environment" => ("PHP_FCGI_CHILDREN" => "1"),
  "check-local" => "disable",
)))
url.rewrite-if-not-file = ( "^/(.*)$" => "/index.php/$1" )
`;

let servers: BothServers;

test.before(async () => {
  servers = await startBoth(conf);
});
test.after.always(async () => {
  await servers?.close();
  rmSync(root, { recursive: true, force: true });
});

for (const path of [
  '/missing.php',
  '/sub/missing.php?x=1',
  '/index.php',
  '/index.php/a/b',
  '/page.txt',
  '/pretty/url?x=1',
  '/static/in-alias.txt',
  '/static/not-there.txt',
]) {
  test(`GET ${path} as lighttpd`, async (t) => {
    const [expected, actual] = await Promise.all([
      rawRequest(servers.lighttpd.port, path),
      rawRequest(servers.koaPort, path),
    ]);
    t.deepEqual(seen(actual), seen(expected));
  });
}
