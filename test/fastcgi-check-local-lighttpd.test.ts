/**
 * A `.php` key with check-local disabled, under lighttpd 1.4.69 and koa-lighty on the same
 * config. lighttpd matches the key twice: on the URL (where check-local off claims the
 * request without the disk) and again on the file the file step found, whatever check-local
 * says. The second look is what runs `/env.php/More` (the URL does not end in `.php`) and,
 * under force-lowercase-filenames, `/ENV.PHP`: were it skipped, the script would be sent as a
 * static file, its source to the client.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { bothForFile, seen } from './helpers/same-conf.js';

const root = mkdtempSync(join(tmpdir(), 'koa-lighty-nolocal-'));
const ENV_PHP = `<?php
header('Content-Type: application/json');
$keys = ['SCRIPT_NAME', 'SCRIPT_FILENAME', 'PATH_INFO', 'REQUEST_URI'];
echo json_encode(array_map(fn ($k) => $_SERVER[$k] ?? null, array_combine($keys, $keys)));
`;
mkdirSync(join(root, 'lc', 'sub'), { recursive: true });
for (const name of ['env.php', 'lc/env.php', 'lc/sub/env.php']) writeFileSync(join(root, name), ENV_PHP);

const conf = (sockdir: string) => `
server.document-root = "${root}"
server.modules = ("mod_fastcgi")
fastcgi.server = (".php" => ((
  "bin-path" => "/usr/bin/php-cgi",
  "socket" => "${sockdir}/php.socket",
  "max-procs" => 1,
  "bin-environment" => ("PHP_FCGI_CHILDREN" => "1"),
  "check-local" => "disable",
)))
$HTTP["url"] =^ "/lc/" { server.force-lowercase-filenames = "enable" }
`;

const both = bothForFile(conf, () => rmSync(root, { recursive: true, force: true }));

const paths = ['/env.php', '/env.php/More', '/lc/ENV.PHP', '/lc/Sub/Env.php/More/Info', '/lc/env.PHP?x=1'];

for (const path of paths) {
  test(`GET ${path}: PHP runs the script, as in lighttpd`, async (t) => {
    const [lighttpd, koa] = await both().both(path);
    t.deepEqual(seen(koa), seen(lighttpd));
    t.false(koa.body.toString().includes('<?php'), 'never the source');
  });
}
