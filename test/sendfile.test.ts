import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import Koa from 'koa';
import { DEFAULT_MIME_ASSIGN, MimeTypes } from '../src/http/mime.js';
import { memoryLogger } from '../src/log.js';
import {
  findSendfileDirective,
  normaliseSendfileDocroots,
  type SendfileHeader,
  sendBackendFile,
} from '../src/middleware/sendfile.js';
import { type RawResponse, rawExchange, rawRequest, serve } from './helpers/http.js';

/**
 * sendBackendFile on its own: each request plays a backend answer through `X-Test-*` request
 * headers (status, the send-file header and its value, backend Content-Type / ETag).
 */
const ROOT = fileURLToPath(new URL('../fixtures/sendfile/', import.meta.url)).replace(/\/$/, '');
const DOCROOT = `${ROOT}/docroot`;
const A_TXT = '0123456789abcdefghijklmnopqrstuvwxyz\n';

async function backendPlayer(t: ExecutionContext, docroots: string[] = [`${DOCROOT}/`]) {
  const log = memoryLogger();
  const app = new Koa();
  app.use(async (ctx) => {
    const status = Number(ctx.get('X-Test-Status') || 200);
    const type = ctx.get('X-Test-Type');
    if (type) ctx.set('Content-type', type);
    if (ctx.get('X-Test-ETag')) ctx.set('ETag', ctx.get('X-Test-ETag'));
    if (ctx.get('X-Test-Accept-Ranges')) ctx.set('Accept-Ranges', ctx.get('X-Test-Accept-Ranges'));
    ctx.set('Content-Length', '5');
    ctx.set('X-Backend', 'kept');
    const header = (ctx.get('X-Test-Header') || 'X-Sendfile') as SendfileHeader;
    await sendBackendFile(
      ctx,
      status,
      { header, value: ctx.get('X-Test-Value') },
      {
        docroots: normaliseSendfileDocroots(docroots),
        mimeTypes: new MimeTypes(DEFAULT_MIME_ASSIGN),
        forceLowercase: ctx.get('X-Test-Lowercase') === '1',
        log,
      },
    );
  });
  const server = await serve(app);
  t.teardown(server.close);
  const send = (value: string, headers: Record<string, string> = {}, method = 'GET'): Promise<RawResponse> =>
    rawRequest(server.port, '/download.php', { 'X-Test-Value': value, ...headers }, method);
  return { send, log, port: server.port };
}

test('X-Sendfile sends the file like a static file: type, length, validators, Accept-Ranges', async (t) => {
  const { send } = await backendPlayer(t);
  const res = await send(`${DOCROOT}/a.txt`);
  t.is(res.status, 200);
  t.is(res.body.toString(), A_TXT);
  t.is(res.headers['content-length'], '37', 'the backend Content-Length (5) is replaced');
  t.is(res.headers['content-type'], 'text/plain;charset=utf-8');
  t.regex(res.headers.etag ?? '', /^"\d+"$/);
  t.truthy(res.headers['last-modified']);
  t.is(res.headers['accept-ranges'], 'bytes');
  t.is(res.headers['x-backend'], 'kept');
});

test("the backend's Content-Type and its own ETag win", async (t) => {
  const { send } = await backendPlayer(t);
  const res = await send(`${DOCROOT}/a.txt`, {
    'X-Test-Type': 'text/html; charset=UTF-8',
    'X-Test-ETag': '"mine"',
  });
  t.is(res.headers['content-type'], 'text/html; charset=UTF-8');
  t.is(res.headers.etag, '"mine"');
  const again = await send(`${DOCROOT}/a.txt`, { 'X-Test-ETag': '"mine"', 'If-None-Match': '"mine"' });
  t.is(again.status, 304);
});

test('conditional requests get 304 (If-None-Match, If-Modified-Since)', async (t) => {
  const { send } = await backendPlayer(t);
  const first = await send(`${DOCROOT}/a.txt`);
  const byEtag = await send(`${DOCROOT}/a.txt`, { 'If-None-Match': first.headers.etag! });
  t.is(byEtag.status, 304);
  t.is(byEtag.body.length, 0);
  t.is(byEtag.headers.etag, first.headers.etag);
  const byDate = await send(`${DOCROOT}/a.txt`, { 'If-Modified-Since': first.headers['last-modified']! });
  t.is(byDate.status, 304);
});

test('Range gives 206, an unsatisfiable one 416; HEAD sends the length without a body', async (t) => {
  const { send } = await backendPlayer(t);
  const part = await send(`${DOCROOT}/a.txt`, { Range: 'bytes=10-15' });
  t.is(part.status, 206);
  t.is(part.headers['content-range'], 'bytes 10-15/37');
  t.is(part.body.toString(), 'abcdef');
  const none = await send(`${DOCROOT}/a.txt`, { Range: 'bytes=100-' });
  t.is(none.status, 416);
  const head = await send(`${DOCROOT}/a.txt`, {}, 'HEAD');
  t.is(head.status, 200);
  t.is(head.headers['content-length'], '37');
  t.is(head.body.length, 0);
});

test('another backend status is kept, the file sent, without validators', async (t) => {
  const { send } = await backendPlayer(t);
  const created = await send(`${DOCROOT}/a.txt`, { 'X-Test-Status': '201', Range: 'bytes=0-1' });
  t.is(created.status, 201);
  t.is(created.body.toString(), A_TXT);
  t.false('etag' in created.headers);
  t.false('last-modified' in created.headers);
  const notFound = await send(`${DOCROOT}/a.txt`, { 'X-Test-Status': '404' });
  t.is(notFound.status, 404);
  t.is(notFound.body.toString(), A_TXT);
});

test('a missing file is 404 with the error page, also after a backend 201', async (t) => {
  const { send, log } = await backendPlayer(t);
  const res = await send(`${DOCROOT}/nope.txt`);
  t.is(res.status, 404);
  t.is(res.headers['content-type'], 'text/html');
  t.regex(res.body.toString(), /<title>404 Not Found<\/title>/);
  t.is((await send(`${DOCROOT}/nope.txt`, { 'X-Test-Status': '201' })).status, 404);
  t.true(log.lines.some((line) => line.includes('nope.txt')));
  // After a backend error status, that status stays (with nothing to send).
  const gone = await send(`${DOCROOT}/nope.txt`, { 'X-Test-Status': '410' });
  t.is(gone.status, 410);
  t.is(gone.body.length, 0);
});

test('outside x-sendfile-docroot is 403, also through .. and %2e%2e, and the docroot without its slash', async (t) => {
  const { send } = await backendPlayer(t);
  t.is((await send(`${ROOT}/outside/secret.txt`)).status, 403);
  t.is((await send(`${DOCROOT}/../outside/secret.txt`)).status, 403);
  t.is((await send(`${DOCROOT}/%2e%2e/outside/secret.txt`)).status, 403);
  t.is((await send(`${DOCROOT}%2F..%2Foutside%2Fsecret.txt`)).status, 403);
  t.is((await send(DOCROOT)).status, 403);
  // Normalised back inside: served.
  const inside = await send(`${DOCROOT}/sub/../a.txt`);
  t.is(inside.status, 200);
  t.is(inside.body.toString(), A_TXT);
  const encoded = await send(`${DOCROOT}%2Fsub%2F%2e%2e%2Fa.txt`);
  t.is(encoded.body.toString(), A_TXT);
});

test('a symlink inside the docroot pointing outside it is 403; one pointing inside is fine', async (t) => {
  const { send } = await backendPlayer(t);
  const out = await send(`${DOCROOT}/link-out.txt`);
  t.is(out.status, 403);
  t.false(out.body.toString().includes('TOP SECRET'));
  t.is((await send(`${DOCROOT}/outdir/secret.txt`)).status, 403);
  const inside = await send(`${DOCROOT}/link-in.txt`);
  t.is(inside.status, 200);
  t.is(inside.body.toString(), A_TXT);
});

test('a link swapped to point outside within the realpath cache second never hands out the outside file', async (t) => {
  // Resolved paths are cached a second (src/http/real-path.ts); what is served is the path
  // resolved and checked then, so a swap can make an answer stale but never unsafe.
  const dir = join(tmpdir(), `koa-lighty-swap-${process.pid}`);
  mkdirSync(join(dir, 'root'), { recursive: true });
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'root', 'inside.txt'), 'inside\n');
  writeFileSync(join(dir, 'outside.txt'), 'TOP SECRET\n');
  symlinkSync(join(dir, 'root', 'inside.txt'), join(dir, 'root', 'link.txt'));
  const { send } = await backendPlayer(t, [`${dir}/root/`]);
  const before = await send(`${dir}/root/link.txt`);
  t.is(before.body.toString(), 'inside\n');
  symlinkSync(join(dir, 'outside.txt'), join(dir, 'root', 'link.new'));
  renameSync(join(dir, 'root', 'link.new'), join(dir, 'root', 'link.txt'));
  const soon = await send(`${dir}/root/link.txt`);
  t.false(soon.body.toString().includes('TOP SECRET'));
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const later = await send(`${dir}/root/link.txt`);
  t.is(later.status, 403);
  t.false(later.body.toString().includes('TOP SECRET'));
});

test('relative path 403, directory 403, invalid UTF-8 502, a space encoded or not', async (t) => {
  const { send } = await backendPlayer(t);
  t.is((await send('docroot/a.txt')).status, 403);
  t.is((await send(`${DOCROOT}/dir`)).status, 403);
  t.is((await send(`${DOCROOT}/%ff.txt`)).status, 502);
  t.is((await send(`${DOCROOT}/with%20space.txt`)).body.toString(), 'spaced\n');
  t.is((await send(`${DOCROOT}/with space.txt`)).body.toString(), 'spaced\n');
});

test('without x-sendfile-docroot any readable file can be sent (lighttpd does the same)', async (t) => {
  const { send } = await backendPlayer(t, []);
  const res = await send(`${ROOT}/outside/secret.txt`);
  t.is(res.status, 200);
  t.is(res.body.toString(), 'TOP SECRET\n');
});

test('the octet-stream fallback carries no validators', async (t) => {
  const { send } = await backendPlayer(t);
  const res = await send(`${DOCROOT}/b.bin`);
  t.is(res.status, 200);
  t.is(res.headers['content-type'], 'application/octet-stream');
  t.false('etag' in res.headers);
  t.is(res.body.toString(), 'BBBBBBBBBB');
});

test('force-lowercase-filenames lower-cases the path before the docroot check and the open', async (t) => {
  // A directory whose own path is lower case (a checkout path may not be).
  const dir = join(tmpdir(), `koa-lighty-lc-${process.pid}`);
  mkdirSync(join(dir, 'files'), { recursive: true });
  writeFileSync(join(dir, 'files', 'c.txt'), 'lower\n');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { send } = await backendPlayer(t, [`${dir}/files/`]);
  const res = await send(`${dir}/Files/C.TXT`, { 'X-Test-Lowercase': '1' });
  t.is(res.status, 200);
  t.is(res.body.toString(), 'lower\n');
  // Without the option the docroot comparison is case-sensitive.
  t.is((await send(`${dir}/Files/C.TXT`)).status, 403);
});

test('X-Sendfile2 concatenates ranges: Content-Length is the sum, no validators', async (t) => {
  const { send } = await backendPlayer(t);
  const value = `${DOCROOT}/a.txt 0-3, ${DOCROOT}/b.bin 2-, ${encodeURI(`${DOCROOT}/with space.txt`)} 0-5`;
  const res = await send(value, { 'X-Test-Header': 'X-Sendfile2' });
  t.is(res.status, 200);
  t.is(res.body.toString(), '0123BBBBBBBBspaced');
  t.is(res.headers['content-length'], String(4 + 8 + 6));
  t.false('etag' in res.headers);
  t.false('last-modified' in res.headers);
  const head = await send(value, { 'X-Test-Header': 'X-Sendfile2' }, 'HEAD');
  t.is(head.headers['content-length'], '18');
  t.is(head.body.length, 0);
});

test('X-Sendfile2 range edge cases: empty part, clamped end, end before start', async (t) => {
  const { send } = await backendPlayer(t);
  const x2 = { 'X-Test-Header': 'X-Sendfile2' };
  const empty = await send(`${DOCROOT}/a.txt 5-4`, x2);
  t.is(empty.status, 200);
  t.is(empty.headers['content-length'], '0');
  const clamped = await send(`${DOCROOT}/a.txt 30-100`, x2);
  t.is(clamped.body.toString(), 'uvwxyz\n');
  t.is((await send(`${DOCROOT}/a.txt 6-4`, x2)).status, 502);
});

test('X-Sendfile2 errors: 502 for syntax and non-regular files, 404 missing, 403 outside', async (t) => {
  const { send } = await backendPlayer(t);
  const status = async (value: string) => (await send(value, { 'X-Test-Header': 'X-Sendfile2' })).status;
  t.is(await status(`${DOCROOT}/a.txt`), 502, 'no range');
  t.is(await status(`${DOCROOT}/a.txt 0-3;foo`), 502, 'parameters after the range');
  t.is(await status(`${DOCROOT}/a.txt -5`), 502, 'suffix range');
  t.is(await status(`${DOCROOT}/a.txt 0-3 extra`), 502, 'extra word');
  t.is(await status(`${DOCROOT}/dir 0-3`), 502, 'directory');
  t.is(await status(`${DOCROOT}/nope.txt 0-3`), 404);
  t.is(await status(`${DOCROOT}/a.txt 0-3, ${DOCROOT}/nope.txt 0-3`), 404, 'an error after a good part');
  t.is(await status(`${ROOT}/outside/secret.txt 0-3`), 403);
  t.is(await status(`${DOCROOT}/link-out.txt 0-3`), 403);
  // The first failing entry decides: a missing file before a bad range.
  t.is(await status(`${DOCROOT}/nope.txt 0-3, ${DOCROOT}/a.txt x`), 404);
});

test('a client Range applies to the X-Sendfile2 concatenation', async (t) => {
  const { send } = await backendPlayer(t);
  const value = `${DOCROOT}/a.txt 0-9, ${DOCROOT}/b.bin 0-9`;
  const one = await send(value, { 'X-Test-Header': 'X-Sendfile2', Range: 'bytes=8-11' });
  t.is(one.status, 206);
  t.is(one.headers['content-range'], 'bytes 8-11/20');
  t.is(one.body.toString(), '89BB');
  const suffix = await send(value, { 'X-Test-Header': 'X-Sendfile2', Range: 'bytes=-3' });
  t.is(suffix.body.toString(), 'BBB');
  const none = await send(value, { 'X-Test-Header': 'X-Sendfile2', Range: 'bytes=50-' });
  t.is(none.status, 416);
  // lighttpd 1.4.69 sends its 416 page without a Content-Range (seen, as for static files).
  t.false('content-range' in none.headers);
  t.regex(none.body.toString(), /<title>416 Range Not Satisfiable<\/title>/);
});

test('X-Sendfile2 advertises and honours ranges only where lighttpd does: GET/HEAD over HTTP/1.1', async (t) => {
  const { send, port } = await backendPlayer(t);
  const value = `${DOCROOT}/a.txt 0-9, ${DOCROOT}/b.bin 0-9`;
  const x2 = { 'X-Test-Header': 'X-Sendfile2', Range: 'bytes=8-11' };
  t.is((await send(value, x2)).headers['accept-ranges'], 'bytes');
  t.is((await send(value, x2, 'HEAD')).headers['accept-ranges'], 'bytes');
  const options = await send(value, x2, 'OPTIONS');
  t.is(options.status, 200);
  t.false('accept-ranges' in options.headers);
  const http10 = await rawExchange(
    port,
    Buffer.from(
      `GET /download.php HTTP/1.0\r\nX-Test-Header: X-Sendfile2\r\nX-Test-Value: ${value}\r\nRange: bytes=8-11\r\n\r\n`,
    ),
  );
  t.is(http10.status, 200);
  t.is(http10.body.length, 20);
  t.false('accept-ranges' in http10.headers);
  const refused = await send(value, { ...x2, 'X-Test-Accept-Ranges': 'none' });
  t.is(refused.status, 200);
  t.is(refused.headers['accept-ranges'], 'none');
});

test("If-Range over X-Sendfile2 is compared with the backend's own ETag (seen)", async (t) => {
  const { send } = await backendPlayer(t);
  const x2 = { 'X-Test-Header': 'X-Sendfile2', 'X-Test-ETag': '"v1"', Range: 'bytes=8-11' };
  const value = `${DOCROOT}/a.txt 0-9, ${DOCROOT}/b.bin 0-9`;
  const same = await send(value, { ...x2, 'If-Range': '"v1"' });
  t.is(same.status, 206);
  t.is(same.body.toString(), '89BB');
  const changed = await send(value, { ...x2, 'If-Range': '"v0"' });
  t.is(changed.status, 200);
  t.is(changed.body.length, 20);
  const { 'X-Test-ETag': _, ...withoutEtag } = x2;
  t.is((await send(value, { ...withoutEtag, 'If-Range': '"v1"' })).status, 200, 'nothing to compare with');
});

test('several client ranges over X-Sendfile2 give multipart/byteranges', async (t) => {
  const { send } = await backendPlayer(t);
  const value = `${DOCROOT}/a.txt 0-, ${DOCROOT}/a.txt 0-, ${DOCROOT}/a.txt 0-`;
  const res = await send(value, {
    'X-Test-Header': 'X-Sendfile2',
    'X-Test-Type': 'text/plain',
    Range: 'bytes=0-1,100-101',
  });
  t.is(res.status, 206);
  t.is(res.headers['content-type'], 'multipart/byteranges; boundary=fkj49sn38dcn3');
  t.is(
    res.body.toString(),
    // No CRLF before the first boundary, as lighttpd's multipart answers (seen).
    '--fkj49sn38dcn3\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/111\r\n\r\n01' +
      '\r\n--fkj49sn38dcn3\r\nContent-Type: text/plain\r\nContent-Range: bytes 100-101/111\r\n\r\nqr' +
      '\r\n--fkj49sn38dcn3--\r\n',
  );
  t.is(res.headers['content-length'], String(res.body.length));
});

test('precedence: X-Sendfile2, then X-Sendfile, then X-LIGHTTPD-send-file, names in any case', (t) => {
  t.deepEqual(
    findSendfileDirective([
      ['x-lighttpd-send-file', '/c'],
      ['X-SENDFILE', '/b'],
      ['x-sendfile2', '/a 0-'],
    ]),
    { header: 'X-Sendfile2', value: '/a 0-' },
  );
  t.deepEqual(
    findSendfileDirective([
      ['X-LIGHTTPD-send-file', '/c'],
      ['x-Sendfile', '/b'],
    ]),
    { header: 'X-Sendfile', value: '/b' },
  );
  t.deepEqual(findSendfileDirective([['X-Lighttpd-Send-File', '/c']]), {
    header: 'X-LIGHTTPD-send-file',
    value: '/c',
  });
  t.is(findSendfileDirective([['X-Sendfile-Extra', '/x']]), undefined);
});

test('x-sendfile-docroot entries must be absolute; they are normalised with a trailing slash', (t) => {
  t.deepEqual(normaliseSendfileDocroots(['/srv/files', '/srv//x/../y/']), ['/srv/files/', '/srv/y/']);
  t.throws(() => normaliseSendfileDocroots(['srv/files']), { message: /must start with \// });
});
