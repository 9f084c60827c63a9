import { join } from 'node:path';
import test from 'ava';
import Koa from 'koa';
import { requestState } from '../src/http/request-state.js';
import { memoryLogger } from '../src/log.js';
import {
  type RequestFile,
  resolveRequestFile,
  type StaticFilesOptions,
  staticFiles,
} from '../src/middleware/static.js';
import { rawExchange, rawRequest, serve } from './helpers/http.js';
import { FIXTURE_WWW } from './helpers/lighttpd.js';

async function site(
  t: import('ava').ExecutionContext,
  options: Partial<StaticFilesOptions> = {},
  after?: Koa.Middleware,
) {
  const app = new Koa();
  app.use(
    staticFiles({ documentRoot: FIXTURE_WWW, indexFiles: ['index.html'], log: memoryLogger(), ...options }),
  );
  if (after) app.use(after);
  const served = await serve(app);
  t.teardown(served.close);
  return (path: string, headers: Record<string, string> = {}, method = 'GET') =>
    rawRequest(served.port, path, headers, method);
}

/** What resolveRequestFile says for a path, and the request state it leaves. */
async function resolved(path: string, indexFiles = ['index.html']) {
  const app = new Koa();
  let found: RequestFile | undefined;
  let state: ReturnType<typeof requestState> | undefined;
  app.use(async (ctx) => {
    found = await resolveRequestFile(ctx, { documentRoot: FIXTURE_WWW, indexFiles });
    const again = await resolveRequestFile(ctx, { documentRoot: FIXTURE_WWW, indexFiles });
    if (again !== found) throw new Error('resolved twice');
    state = requestState(ctx);
    ctx.body = '';
  });
  const served = await serve(app);
  await rawRequest(served.port, path);
  await served.close();
  return { found: found!, state: state! };
}

test('resolveRequestFile: a file with PATH_INFO, once per request, on the request state', async (t) => {
  const { found, state } = await resolved('/sub/page.txt/a/b?q=1');
  t.like(found, { kind: 'file', scriptPath: '/sub/page.txt', pathInfo: '/a/b' });
  t.is(state.docRoot, FIXTURE_WWW);
  t.like(state.physical, {
    path: join(FIXTURE_WWW, 'sub/page.txt'),
    scriptPath: '/sub/page.txt',
    pathInfo: '/a/b',
  });
  t.is(state.path, '/sub/page.txt/a/b', 'uri.path itself stays what the request asked for');
});

test('resolveRequestFile: index file appended to the script path', async (t) => {
  t.like((await resolved('/sub/')).found, { kind: 'file', scriptPath: '/sub/index.html', pathInfo: '' });
  t.like((await resolved('/noindex/')).found, { kind: 'directory', scriptPath: '/noindex/' });
  t.like((await resolved('/sub')).found, { kind: 'redirect', location: '/sub/' });
  t.like((await resolved('/missing')).found, { kind: 'error', status: 404 });
});

test('resolveRequestFile: an index name starting with / replaces the path', async (t) => {
  const { found, state } = await resolved('/noindex/', ['missing.html', '/sub/index.html']);
  t.like(found, { kind: 'file', scriptPath: '/sub/index.html' });
  t.is(state.physical?.path, join(FIXTURE_WWW, 'sub/index.html'));
});

test('content types from mimeTypes, verbatim; octet-stream without validators', async (t) => {
  const get = await site(t, { mimeTypes: [['.txt', 'text/plain; charset=iso-8859-1']] });
  const text = await get('/range.txt');
  t.is(text.headers['content-type'], 'text/plain; charset=iso-8859-1');
  t.truthy(text.headers['etag']);
  const other = await get('/pic.jpg');
  t.is(other.headers['content-type'], 'application/octet-stream');
  t.false('etag' in other.headers);
  t.false('last-modified' in other.headers);
});

test('default types (DEFAULT_MIME_ASSIGN)', async (t) => {
  const get = await site(t);
  t.is((await get('/pic.jpg')).headers['content-type'], 'image/jpeg');
  t.is((await get('/README.TXT')).headers['content-type'], 'text/plain;charset=utf-8');
});

test('excludeExtensions: not sent, 403 when nobody else answers', async (t) => {
  const get = await site(t, { excludeExtensions: ['.bak', ''] });
  t.is((await get('/notes.bak')).status, 403);
  t.is((await get('/notes.bak', {}, 'PUT')).status, 501);
  t.is((await get('/range.txt')).status, 200, 'an empty suffix excludes nothing');
});

test('disablePathInfo: a file reached with path-info is a 403', async (t) => {
  const get = await site(t, { disablePathInfo: true });
  t.is((await get('/pic.jpg/x')).status, 403);
  t.is((await get('/pic.jpg')).status, 200);
});

test('what it does not serve goes to the next middleware first', async (t) => {
  const get = await site(t, {}, (ctx) => {
    if (ctx.path === '/api') ctx.body = 'api';
  });
  t.is((await get('/api')).body.toString(), 'api');
  t.is((await get('/missing')).status, 404);
  t.is((await get('/range.txt')).body.toString(), 'abcdefghijklmnopqrstuvwxyz0123456789\n');
});

test('access check #2 refusals are never handed on', async (t) => {
  const app = new Koa();
  const { accessDeny } = await import('../src/middleware/access.js');
  app.use(accessDeny({ deny: ['.inc'] }));
  app.use(staticFiles({ documentRoot: FIXTURE_WWW, log: memoryLogger() }));
  app.use((ctx) => {
    ctx.body = 'leaked';
  });
  const served = await serve(app);
  t.teardown(served.close);
  const response = await rawRequest(served.port, '/config.inc/');
  t.is(response.status, 403);
  t.notRegex(response.body.toString(), /leaked/);
});

test('nobody handled it: 403 for GET/HEAD/POST, 200 with Allow for OPTIONS, 501 otherwise', async (t) => {
  const get = await site(t);
  t.is((await get('/noindex/')).status, 403);
  t.is((await get('/noindex/', {}, 'HEAD')).status, 403);
  t.is((await get('/noindex/', { 'Content-Length': '0' }, 'POST')).status, 403);
  const options = await get('/noindex/', {}, 'OPTIONS');
  t.is(options.status, 200);
  t.is(options.headers['allow'], 'OPTIONS, GET, HEAD, POST');
  t.is(options.headers['content-length'], '0');
  t.is((await get('/pic.jpg', { 'Content-Length': '0' }, 'PUT')).status, 501);
  t.is((await get('/missing', { 'Content-Length': '0' }, 'PUT')).status, 404);
});

test('directory without its slash: 301, path-only Location, no body, no type', async (t) => {
  const get = await site(t);
  const response = await get('/s%75b?x=%41');
  t.is(response.status, 301);
  t.is(response.headers['location'], '/sub/?x=A');
  t.is(response.headers['content-length'], '0');
  t.false('content-type' in response.headers);
});

test('a document root that does not exist is logged once', (t) => {
  const log = memoryLogger();
  staticFiles({ documentRoot: '/nonexistent/www', log });
  t.is(log.lines.length, 1);
  t.regex(log.lines[0]!, /document root \/nonexistent\/www does not exist/);
});

test('Accept-Ranges only over HTTP/1.1, as lighttpd 1.4.69 sends it', async (t) => {
  const app = new Koa();
  app.use(staticFiles({ documentRoot: FIXTURE_WWW, indexFiles: ['index.html'], log: memoryLogger() }));
  const served = await serve(app);
  t.teardown(served.close);
  const http11 = await rawRequest(served.port, '/index.html');
  t.is(http11.headers['accept-ranges'], 'bytes');
  const http10 = await rawExchange(
    served.port,
    Buffer.from('GET /index.html HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n'),
  );
  t.is(http10.status, 200);
  t.false('accept-ranges' in http10.headers);
});
