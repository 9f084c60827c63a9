/**
 * server.tag inside conditional blocks, under lighttpd 1.4.69 and koa-lighty on the same
 * config: the block's tag is the Server header of every answer in that block (files, PHP,
 * error pages) and PHP's SERVER_SOFTWARE; a blank tag in a block sends no Server header and
 * an empty SERVER_SOFTWARE.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { bothForFile, seen } from './helpers/same-conf.js';

const root = mkdtempSync(join(tmpdir(), 'koa-lighty-tag-'));
for (const dir of ['', 'other', 'none', 'blank']) {
  mkdirSync(join(root, dir), { recursive: true });
  writeFileSync(join(root, dir, 'soft.php'), '<?php echo "[", $_SERVER["SERVER_SOFTWARE"], "]";');
  writeFileSync(join(root, dir, 'page.txt'), `${dir} page\n`);
}

const conf = (sockdir: string) => `
server.document-root = "${root}"
server.modules = ("mod_fastcgi")
server.tag = "global-tag"
mimetype.assign = (".txt" => "text/plain")
fastcgi.server = (".php" => ((
  "bin-path" => "/usr/bin/php-cgi",
  "socket" => "${sockdir}/php.socket",
  "max-procs" => 1,
  "bin-environment" => ("PHP_FCGI_CHILDREN" => "1"),
)))
$HTTP["url"] =^ "/other/" { server.tag = "other-tag" }
$HTTP["url"] =^ "/none/" { server.tag = "" }
$HTTP["url"] =^ "/blank/" { server.tag = " \t " }
`;

const both = bothForFile(conf, () => rmSync(root, { recursive: true, force: true }));

for (const dir of ['', '/other', '/none', '/blank']) {
  for (const path of [`${dir}/soft.php`, `${dir}/page.txt`, `${dir}/missing`]) {
    test(`GET ${path}: Server header and SERVER_SOFTWARE as lighttpd`, async (t) => {
      const [lighttpd, koa] = await both().both(path);
      t.deepEqual(seen(koa, ['server']), seen(lighttpd, ['server']));
    });
  }
}

test('the block tag replaces the global one', async (t) => {
  const [, other] = await both().both('/other/soft.php');
  t.is(other.headers['server'], 'other-tag');
  t.is(other.body.toString(), '[other-tag]');
  const [, none] = await both().both('/none/soft.php');
  t.false('server' in none.headers);
  t.is(none.body.toString(), '[]');
});
