import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import Koa from 'koa';
import { errorPageBody } from '../src/http/error-page.js';
import { type FastCgiMiddleware, fastcgi } from '../src/middleware/fastcgi.js';
import { PHP_FIXTURES, phpSite } from './fastcgi-middleware-app.js';
import { rawExchange, rawRequest } from './helpers/http.js';
import { compareWithLighttpd } from './helpers/lighttpd.js';

/**
 * Range on PHP output (spec 1.4): lighttpd buffers a backend's answer and treats a complete
 * 200 like a file. koa-lighty does so for bodies that end within 64 KiB; longer ones stream.
 * Expected values are lighttpd 1.4.69's answers to the same requests (seen), and the last
 * block asks a running lighttpd.
 */

const BODY = 'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(4); // 144 bytes
const TYPE = 'text/plain;charset=UTF-8'; // what PHP makes of `Content-Type: text/plain`

/**
 * mw-sendfile.php with send-file off: a PHP answer whose body, status, type and one extra
 * header `h: v` the query chooses (its `Content-Length: 5` is dropped by the bridge, spec 3.4).
 */
function php(
  port: number,
  query: Record<string, string>,
  headers: Record<string, string> = {},
  method = 'GET',
) {
  const q = new URLSearchParams({ h: 'X-Extra', v: 'yes', type: 'text/plain', body: BODY, ...query });
  return rawRequest(port, `/mw-sendfile.php?${q}`, headers, method);
}

test('a small PHP 200 carries Accept-Ranges: bytes and its exact length', async (t) => {
  const site = await phpSite(t);
  const res = await php(site.port, {});
  t.is(res.status, 200);
  t.is(res.headers['accept-ranges'], 'bytes');
  t.is(res.headers['content-length'], '144');
  t.is(res.body.toString(), BODY);
});

test('no Accept-Ranges, and Range ignored, on a non-200 and on a streamed large answer', async (t) => {
  const site = await phpSite(t);
  const missing = await rawRequest(site.port, '/mw-not-found.php', { Range: 'bytes=0-3' });
  t.is(missing.status, 404);
  t.false('accept-ranges' in missing.headers);
  t.is(missing.body.toString(), 'PHP says: no such page');

  // 128 KiB is past what is buffered: chunked, whole, no Accept-Ranges (lighttpd would cut it).
  const large = await rawRequest(site.port, '/mw-stream.php?kib=128', { Range: 'bytes=0-9' });
  t.is(large.status, 200);
  t.is(large.headers['transfer-encoding'], 'chunked');
  t.false('accept-ranges' in large.headers);
  t.false('content-range' in large.headers);
  t.is(large.body.length, 128 * 1024);
});

test('one range: 206 with Content-Range; a suffix range; ranges 80 bytes apart merge', async (t) => {
  const site = await phpSite(t);
  const one = await php(site.port, {}, { Range: 'bytes=2-5' });
  t.is(one.status, 206);
  t.is(one.headers['content-range'], 'bytes 2-5/144');
  t.is(one.headers['content-length'], '4');
  t.is(one.headers['content-type'], TYPE);
  t.is(one.headers['accept-ranges'], 'bytes');
  t.is(one.body.toString(), 'cdef');

  const suffix = await php(site.port, {}, { Range: 'bytes=-4' });
  t.is(suffix.headers['content-range'], 'bytes 140-143/144');
  t.is(suffix.body.toString(), '6789');

  const merged = await php(site.port, {}, { Range: 'bytes=0-1,30-33' });
  t.is(merged.status, 206);
  t.is(merged.headers['content-range'], 'bytes 0-33/144');
});

test('two ranges far apart: multipart/byteranges, laid out as lighttpd does', async (t) => {
  const site = await phpSite(t);
  const res = await php(site.port, {}, { Range: 'bytes=0-1,140-143' });
  t.is(res.status, 206);
  t.is(res.headers['content-type'], 'multipart/byteranges; boundary=fkj49sn38dcn3');
  t.false('content-range' in res.headers);
  t.is(
    res.body.toString(),
    `--fkj49sn38dcn3\r\nContent-Type: ${TYPE}\r\nContent-Range: bytes 0-1/144\r\n\r\nab` +
      `\r\n--fkj49sn38dcn3\r\nContent-Type: ${TYPE}\r\nContent-Range: bytes 140-143/144\r\n\r\n6789` +
      '\r\n--fkj49sn38dcn3--\r\n',
  );
  t.is(res.headers['content-length'], String(res.body.length));
});

test("an unsatisfiable Range gets lighttpd's 416 page, without the backend's headers", async (t) => {
  const site = await phpSite(t);
  const res = await php(site.port, {}, { Range: 'bytes=144-' });
  t.is(res.status, 416);
  t.is(res.headers['content-type'], 'text/html');
  t.false('content-range' in res.headers);
  t.false('x-extra' in res.headers);
  t.is(res.body.toString(), errorPageBody(416));
});

test('HEAD: Accept-Ranges, no body, no Content-Length; a Range is not applied', async (t) => {
  const site = await phpSite(t);
  for (const headers of [{}, { Range: 'bytes=2-5' }] as Array<Record<string, string>>) {
    const res = await php(site.port, {}, headers, 'HEAD');
    t.is(res.status, 200);
    t.is(res.headers['accept-ranges'], 'bytes');
    t.false('content-length' in res.headers);
    t.false('content-range' in res.headers);
    t.is(res.body.length, 0);
  }
});

test("If-Range is compared with the backend's ETag or Last-Modified; without one the whole body comes", async (t) => {
  const site = await phpSite(t);
  const range = { Range: 'bytes=2-5' };
  const etag = { etag: '"v1"' };
  t.is((await php(site.port, etag, { ...range, 'If-Range': '"v1"' })).status, 206);
  t.is((await php(site.port, etag, { ...range, 'If-Range': '"v0"' })).status, 200);
  const date = 'Mon, 30 Nov 2026 04:02:52 GMT';
  const modified = { h: 'Last-Modified', v: date };
  t.is((await php(site.port, modified, { ...range, 'If-Range': date })).status, 206);
  t.is(
    (await php(site.port, modified, { ...range, 'If-Range': 'Sun, 29 Nov 2026 04:02:52 GMT' })).status,
    200,
  );
  const neither = await php(site.port, {}, { ...range, 'If-Range': '"v1"' });
  t.is(neither.status, 200);
  t.is(neither.body.toString(), BODY);
});

test('no ranges for an encoded body, for Accept-Ranges: none, over HTTP/1.0 or for POST', async (t) => {
  const site = await phpSite(t);
  const range = { Range: 'bytes=2-5' };
  const encoded = await php(site.port, { h: 'Content-Encoding', v: 'identity' }, range);
  t.is(encoded.status, 200);
  t.false('accept-ranges' in encoded.headers);
  const refused = await php(site.port, { h: 'Accept-Ranges', v: 'none' }, range);
  t.is(refused.status, 200);
  t.is(refused.headers['accept-ranges'], 'none');
  t.is(refused.body.toString(), BODY);

  const http10 = await rawExchange(
    site.port,
    Buffer.from(`GET /mw-sendfile.php?h=X&v=1&body=${BODY} HTTP/1.0\r\nRange: bytes=2-5\r\n\r\n`),
  );
  t.is(http10.status, 200);
  t.false('accept-ranges' in http10.headers);
  t.is(http10.body.toString(), BODY);

  const post = await rawRequest(site.port, '/mw-echo.php', { ...range, 'Content-Length': '0' }, 'POST');
  t.is(post.status, 200);
  t.false('accept-ranges' in post.headers);
  t.false('content-range' in post.headers);
});

// The oracle: lighttpd 1.4.69 and fastcgi() each spawn php-cgi and run mw-echo.php (a JSON
// body of about 150 bytes, the same from both for the same request).
const sockets = mkdtempSync(join(tmpdir(), 'koa-lighty-ranges-'));
let bridge: FastCgiMiddleware | undefined;
test.after.always(async () => {
  await bridge?.close();
  rmSync(sockets, { recursive: true, force: true });
});

compareWithLighttpd('PHP output', {
  lighttpdConf: () => `
server.document-root = "${PHP_FIXTURES}"
server.modules = ("mod_fastcgi")
fastcgi.server = (".php" => (("bin-path" => "/usr/bin/php-cgi", "socket" => "${sockets}/lighttpd.sock")))
`,
  koaApp: () => {
    bridge = fastcgi({
      documentRoot: PHP_FIXTURES,
      backends: [{ key: '.php', hosts: [{ binPath: '/usr/bin/php-cgi', socket: `${sockets}/koa.sock` }] }],
    });
    return new Koa().use(bridge);
  },
  requests: [
    { path: '/mw-echo.php' },
    { path: '/mw-echo.php', method: 'HEAD' },
    { path: '/mw-echo.php', headers: { Range: 'bytes=0-9' } },
    { path: '/mw-echo.php', headers: { Range: 'bytes=-10' } },
    { path: '/mw-echo.php', headers: { Range: 'bytes=0-9,-10' } },
    { path: '/mw-echo.php', headers: { Range: 'bytes=0-9,20-29' } },
    { path: '/mw-echo.php', headers: { Range: 'bytes=5000-' } },
    { path: '/mw-echo.php', headers: { Range: 'bytes=0-9', 'If-Range': '"no-etag-here"' } },
    { path: '/mw-echo.php', method: 'HEAD', headers: { Range: 'bytes=0-9' } },
    { path: '/mw-echo.php', method: 'POST', body: 'a=b', headers: { Range: 'bytes=0-9' } },
    { path: '/mw-not-found.php', headers: { Range: 'bytes=0-3' } },
  ],
});
