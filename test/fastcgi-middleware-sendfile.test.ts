import { fileURLToPath } from 'node:url';
import test from 'ava';
import { memoryLogger } from '../src/log.js';
import { fastcgiApp, nodeFastCgiApp, PHP_FIXTURES, phpSite } from './fastcgi-middleware-app.js';
import { type RawResponse, rawRequest } from './helpers/http.js';
import { startPhpCgi } from './helpers/php-cgi.js';

/** Send-file from real php-cgi scripts through fastcgi() (issue 4, spec 3.7). */
const ROOT = fileURLToPath(new URL('../fixtures/sendfile/', import.meta.url)).replace(/\/$/, '');
const DOCROOT = `${ROOT}/docroot`;
const A_TXT = '0123456789abcdefghijklmnopqrstuvwxyz\n';

const allowed = { allowXSendFile: true, xSendfileDocroot: [`${DOCROOT}/`] };

/** GET mw-sendfile.php answering with header `h: v` (and the other query options). */
function sendfile(
  port: number,
  query: Record<string, string>,
  headers: Record<string, string> = {},
  method = 'GET',
) {
  return rawRequest(port, `/mw-sendfile.php?${new URLSearchParams(query)}`, headers, method);
}

function serverOnlyHeaders(res: RawResponse): string[] {
  return res.headerLines.filter((line) => /^(x-lighttpd-|x-sendfile2?:)/i.test(line));
}

test("the lighttpd wiki's X-LIGHTTPD-send-file script sends the file, header hidden", async (t) => {
  const site = await phpSite(t, { host: allowed });
  const res = await rawRequest(site.port, '/mw-wiki-sendfile.php');
  t.is(res.status, 200);
  t.is(res.body.toString(), A_TXT);
  t.is(res.headers['content-length'], '37');
  // PHP always sends a Content-Type; it wins over the file's mimetype (seen on lighttpd).
  t.is(res.headers['content-type'], 'text/html; charset=UTF-8');
  t.regex(res.headers.etag ?? '', /^"\d+"$/);
  t.truthy(res.headers['last-modified']);
  t.deepEqual(serverOnlyHeaders(res), []);
});

test('X-Sendfile and X-LIGHTTPD-send-file in any case; the backend body and Content-Length are dropped', async (t) => {
  const site = await phpSite(t, { host: allowed });
  for (const h of ['X-Sendfile', 'x-sendfile', 'X-LIGHTTPD-send-file', 'x-lighttpd-SEND-file']) {
    const res = await sendfile(site.port, { h, v: `${DOCROOT}/a.txt`, type: 'text/plain' });
    t.is(res.status, 200, h);
    t.is(res.body.toString(), A_TXT, h);
    t.is(res.headers['content-length'], '37', h);
    t.is(res.headers['x-from-php'], 'yes', h);
    t.deepEqual(serverOnlyHeaders(res), [], h);
  }
});

test('the sent file answers conditional requests, ranges and HEAD like a static file', async (t) => {
  const site = await phpSite(t, { host: allowed });
  const query = { h: 'X-Sendfile', v: `${DOCROOT}/a.txt` };
  const first = await sendfile(site.port, query);
  t.is((await sendfile(site.port, query, { 'If-None-Match': first.headers.etag! })).status, 304);
  t.is(
    (await sendfile(site.port, query, { 'If-Modified-Since': first.headers['last-modified']! })).status,
    304,
  );
  const range = await sendfile(site.port, query, { Range: 'bytes=-4' });
  t.is(range.status, 206);
  t.is(range.body.toString(), 'xyz\n');
  t.is((await sendfile(site.port, query, { Range: 'bytes=99-' })).status, 416);
  const head = await sendfile(site.port, query, {}, 'HEAD');
  t.is(head.status, 200);
  t.is(head.headers['content-length'], '37');
  t.is(head.body.length, 0);
});

test("a backend status other than 200 is kept, and the backend's own ETag wins", async (t) => {
  const site = await phpSite(t, { host: allowed });
  const created = await sendfile(site.port, { h: 'X-Sendfile', v: `${DOCROOT}/a.txt`, status: '201' });
  t.is(created.status, 201);
  t.is(created.body.toString(), A_TXT);
  t.false('etag' in created.headers);
  const tagged = await sendfile(site.port, { h: 'X-Sendfile', v: `${DOCROOT}/a.txt`, etag: '"php-made"' });
  t.is(tagged.headers.etag, '"php-made"');
  t.is(
    (
      await sendfile(
        site.port,
        { v: `${DOCROOT}/a.txt`, etag: '"php-made"' },
        { 'If-None-Match': '"php-made"' },
      )
    ).status,
    304,
  );
});

test('send-file outcomes: missing 404, outside 403, symlink escape 403, relative 403, directory 403, bad UTF-8 502', async (t) => {
  const site = await phpSite(t, { host: allowed });
  const status = async (v: string, extra: Record<string, string> = {}) =>
    (await sendfile(site.port, { v, ...extra })).status;
  t.is(await status(`${DOCROOT}/missing.txt`), 404);
  t.is(await status(`${DOCROOT}/missing.txt`, { status: '201' }), 404);
  t.is(await status(`${ROOT}/outside/secret.txt`), 403);
  t.is(await status(`${DOCROOT}/link-out.txt`), 403);
  t.is(await status(`${DOCROOT}/outdir/secret.txt`), 403);
  t.is(await status('docroot/a.txt'), 403);
  t.is(await status(`${DOCROOT}/dir`), 403);
  t.is(await status(`${DOCROOT}/%ff`), 502);
  const climbed = await sendfile(site.port, { v: `${DOCROOT}/../outside/secret.txt` });
  t.is(climbed.status, 403);
  t.false(climbed.body.toString().includes('TOP SECRET'));
  t.is(await status(`${DOCROOT}/%2e%2e/outside/secret.txt`), 403);
  // Dot-segments that stay inside are fine once normalised.
  t.is((await sendfile(site.port, { v: `${DOCROOT}/sub/%2e%2e/a.txt` })).body.toString(), A_TXT);
  t.true(site.log.lines.some((line) => line.includes('outside x-sendfile-docroot')));
});

test('X-Sendfile2 from PHP: ranges concatenated, errors as lighttpd', async (t) => {
  const site = await phpSite(t, { host: allowed });
  const x2 = (v: string, headers: Record<string, string> = {}) =>
    sendfile(site.port, { h: 'X-Sendfile2', v }, headers);
  const res = await x2(`${DOCROOT}/a.txt 0-3, ${encodeURI(`${DOCROOT}/with space.txt`)} 0-`);
  t.is(res.status, 200);
  t.is(res.body.toString(), '0123spaced\n');
  t.is(res.headers['content-length'], '11');
  t.false('etag' in res.headers);
  const ranged = await x2(`${DOCROOT}/a.txt 0-3, ${DOCROOT}/b.bin 0-`, { Range: 'bytes=2-5' });
  t.is(ranged.status, 206);
  t.is(ranged.body.toString(), '23BB');
  t.is((await x2(`${DOCROOT}/a.txt`)).status, 502);
  t.is((await x2(`${DOCROOT}/a.txt 6-4`)).status, 502);
  t.is((await x2(`${DOCROOT}/dir 0-1`)).status, 502);
  t.is((await x2(`${DOCROOT}/missing 0-1`)).status, 404);
  t.is((await x2(`${ROOT}/outside/secret.txt 0-1`)).status, 403);
});

test('a backend without allowXSendFile: send-file headers dropped, its own body sent unchanged', async (t) => {
  const site = await phpSite(t);
  for (const h of ['X-LIGHTTPD-send-file', 'X-Sendfile', 'X-Sendfile2']) {
    const res = await sendfile(site.port, { h, v: `${DOCROOT}/a.txt 0-3`, body: 'PHP OWN BODY' });
    t.is(res.status, 200, h);
    t.is(res.body.toString(), 'PHP OWN BODY', h);
    t.deepEqual(serverOnlyHeaders(res), [], h);
  }
});

test('the php-cgi worker is free as soon as the send-file headers are read', async (t) => {
  // One worker; after its headers the script would write slowly for hours (16 GiB, 16 KiB per
  // 20 ms). The next request is answered only if the bridge let go of that worker; else it
  // waits in the queue for its timeout and gets 503: no stopwatch needed.
  const site = await phpSite(t, { children: 1, host: allowed });
  const res = await sendfile(site.port, { v: `${DOCROOT}/a.txt`, trail: String(16 * 1024 * 1024) });
  t.is(res.body.toString(), A_TXT);
  const next = await rawRequest(site.port, '/mw-pid.php');
  t.is(next.status, 200);
});

test('the flag is per backend: php-cgi with it, a node-fastcgi app without it, in one middleware', async (t) => {
  const php = await startPhpCgi({ children: 2 });
  t.teardown(() => php.stop());
  const phpAddress = php.address as { host: string; port: number };
  let nodeRequests = 0;
  const node = await nodeFastCgiApp(t, (req, res) => {
    nodeRequests++;
    res.setHeader('Content-Type', 'text/plain');
    res.setHeader('X-Sendfile', `${DOCROOT}/a.txt`);
    res.setHeader('X-LIGHTTPD-send-file', `${DOCROOT}/a.txt`);
    res.setHeader('X-Seen-Script', req.socket.params.SCRIPT_NAME ?? '');
    res.end('node app body');
  });
  const log = memoryLogger();
  const { server } = await fastcgiApp(t, {
    documentRoot: PHP_FIXTURES,
    log,
    backends: [
      { key: '.php', hosts: [{ ...phpAddress, ...allowed }] },
      { key: '.njs', hosts: [{ ...node, checkLocal: false }] },
    ],
  });

  const fromPhp = await sendfile(server.port, { v: `${DOCROOT}/a.txt` });
  t.is(fromPhp.body.toString(), A_TXT);
  // node-fastcgi closes its connection after each answer: every request still works.
  for (let i = 0; i < 3; i++) {
    const fromNode = await rawRequest(server.port, `/app/run.njs?i=${i}`);
    t.is(fromNode.status, 200);
    t.is(fromNode.body.toString(), 'node app body');
    t.is(fromNode.headers['x-seen-script'], '/app/run.njs');
    t.deepEqual(serverOnlyHeaders(fromNode), []);
  }
  t.is(nodeRequests, 3);
});

test('a backend answer without Content-Type is sent without one (Koa would call it octet-stream)', async (t) => {
  const node = await nodeFastCgiApp(t, (_req, res) => {
    res.removeHeader('Content-Type');
    res.end('untyped');
  });
  const { server } = await fastcgiApp(t, {
    documentRoot: PHP_FIXTURES,
    log: memoryLogger(),
    backends: [{ key: '.njs', hosts: [{ ...node, checkLocal: false }] }],
  });
  const res = await rawRequest(server.port, '/run.njs');
  t.is(res.status, 200);
  t.is(res.body.toString(), 'untyped');
  t.false('content-type' in res.headers);
});
