/**
 * cgi.assign names scripts for an interpreter koa-lighty cannot run (it has no mod_cgi). Such
 * a file must never be sent as it is: its source would reach the client. Every file matching
 * a cgi.assign suffix (of the file path, as mod_cgi matches; `""` is every file), globally or
 * in a block, is answered 403 whatever the method, and the start-up warning says so with the
 * file and line. lighttpd without mod_cgi loaded sends the source (a deliberate difference).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { memoryLogger } from '../src/log.js';
import { createApp, type LoadedConfig, loadConfig } from '../src/server/app.js';
import { rawRequest, serve } from './helpers/http.js';
import { startLighttpd } from './helpers/lighttpd.js';

const SOURCE = 'print "Content-Type: text/plain\\n\\nthe-perl-source-marker\\n";\n';
const root = mkdtempSync(join(tmpdir(), 'koa-lighty-cgi-'));
mkdirSync(join(root, 'cgi-bin'));
writeFileSync(join(root, 'script.pl'), SOURCE);
writeFileSync(join(root, 'page.txt'), 'a page\n');
writeFileSync(join(root, 'cgi-bin', 'printenv'), SOURCE);
writeFileSync(join(root, 'cgi-bin', 'notes.txt'), SOURCE);

const site = `server.document-root = "${root}"
mimetype.assign = (".txt" => "text/plain")
cgi.assign = (".pl" => "/usr/bin/perl", ".cgi" => "")
$HTTP["url"] =^ "/cgi-bin/" {
  cgi.assign = ("" => "")
}
`;
const confFile = join(root, 'lighttpd.conf');
writeFileSync(confFile, site);

let loaded: LoadedConfig;
let port: number;
let stop: (() => Promise<void>) | undefined;
test.before(async () => {
  loaded = loadConfig(confFile);
  const lighty = createApp(loaded, { log: memoryLogger() });
  const served = await serve(lighty.app);
  port = served.port;
  stop = async () => {
    await served.close();
    await lighty.close();
  };
});
test.after.always(async () => {
  await stop?.();
  rmSync(root, { recursive: true, force: true });
});

for (const path of ['/script.pl', '/script.pl/extra/path', '/cgi-bin/printenv', '/cgi-bin/notes.txt']) {
  for (const method of ['GET', 'HEAD', 'POST', 'OPTIONS', 'DELETE']) {
    test(`${method} ${path} is 403 and never the source`, async (t) => {
      const res = await rawRequest(port, path, method === 'POST' ? { 'Content-Length': '0' } : {}, method);
      t.is(res.status, 403);
      t.false(res.body.toString('latin1').includes('perl-source-marker'));
    });
  }
}

test('files cgi.assign does not name are served as before', async (t) => {
  const res = await rawRequest(port, '/page.txt');
  t.is(res.status, 200);
  t.is(res.body.toString(), 'a page\n');
});

test('the start-up warning names the file and line and says the files are denied', (t) => {
  t.deepEqual(
    loaded.warnings.filter((line) => line.includes('cgi.assign')),
    [
      `${confFile}:3: cgi.assign: mod_cgi is not supported by koa-lighty; files ending in ".pl", ".cgi" are denied (403), never sent as they are`,
      `${confFile}:5: cgi.assign: mod_cgi is not supported by koa-lighty; every file there is denied (403), never sent as they are`,
    ],
  );
});

test('lighttpd without mod_cgi sends the source: koa-lighty denies it deliberately', async (t) => {
  const lighttpd = await startLighttpd(site);
  t.teardown(() => lighttpd.stop());
  const res = await rawRequest(lighttpd.port, '/script.pl');
  t.is(res.status, 200);
  t.is(res.body.toString(), SOURCE);
});
