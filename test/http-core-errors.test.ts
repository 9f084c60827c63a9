import test from 'ava';
import Koa from 'koa';
import { errorPageBody } from '../src/http/error-page.js';
import { BadRequestTarget } from '../src/http/request-path.js';
import { requestState } from '../src/http/request-state.js';
import { memoryLogger } from '../src/log.js';
import { lighttpdErrors } from '../src/middleware/errors.js';
import { rawRequest, serve } from './helpers/http.js';

async function app(t: import('ava').ExecutionContext, handler: Koa.Middleware) {
  const log = memoryLogger();
  const koa = new Koa();
  koa.silent = true;
  koa.use(lighttpdErrors({ log }));
  koa.use(handler);
  const served = await serve(koa);
  t.teardown(served.close);
  return { log, get: (path: string, method = 'GET') => rawRequest(served.port, path, {}, method) };
}

test('BadRequestTarget: lighttpd 400 page and one log line', async (t) => {
  const { log, get } = await app(t, (ctx) => {
    requestState(ctx);
    ctx.body = 'never';
  });
  const response = await get('/%00');
  t.is(response.status, 400);
  t.is(response.headers['content-type'], 'text/html');
  t.is(response.body.toString(), errorPageBody(400));
  t.is(response.body.length, 345);
  t.is(log.lines.length, 1);
  t.regex(
    log.lines[0]!,
    /^\(errors\) 400 Bad Request for GET \/%00: Error: control character in request path$/,
  );
});

test('a thrown HTTP error keeps its status', async (t) => {
  const { get } = await app(t, (ctx) => ctx.throw(503, 'backend down'));
  const response = await get('/');
  t.is(response.status, 503);
  t.is(response.body.toString(), errorPageBody(503));
  t.is(response.body.length, 361);
});

test('an error with statusCode (node-style) is honoured too', async (t) => {
  const { get } = await app(t, () => {
    throw Object.assign(new Error('gone'), { statusCode: 410 });
  });
  t.is((await get('/')).status, 410);
});

test('an unexpected exception: 500 page, the message and where, never a stack to the client', async (t) => {
  const { log, get } = await app(t, () => {
    throw new TypeError('boom\nsecond line');
  });
  const response = await get('/x');
  t.is(response.status, 500);
  t.is(response.body.toString(), errorPageBody(500));
  t.is(log.lines.length, 1);
  t.regex(log.lines[0]!, /500 Internal Server Error for GET \/x: TypeError: boom second line \(at .+\)$/);
  t.notRegex(response.body.toString(), /boom/);
});

test('a thrown non-error value is a 500 as well', async (t) => {
  const { get } = await app(t, () => {
    throw 'a string';
  });
  t.is((await get('/')).status, 500);
});

test('headers a stage set before failing are not sent with the page', async (t) => {
  const { get } = await app(t, (ctx) => {
    ctx.set('ETag', '"1"');
    ctx.set('X-Powered-By', 'x');
    throw new Error('late');
  });
  const response = await get('/');
  t.false('etag' in response.headers);
  t.false('x-powered-by' in response.headers);
});

test('an error after the head went out: the connection is cut, the server lives on', async (t) => {
  const { log, get } = await app(t, async (ctx) => {
    if (ctx.path === '/ok') {
      ctx.body = 'fine';
      return;
    }
    ctx.res.writeHead(200, { 'Content-Length': '100' });
    ctx.res.write('partial');
    throw new Error('mid-stream');
  });
  const cut = await get('/cut');
  t.is(cut.body.toString(), 'partial', 'the client sees fewer bytes than Content-Length said');
  t.is((await get('/ok')).body.toString(), 'fine');
  t.is(log.lines.length, 1);
});

test('a request nobody answered, and a body-less error status, get the page', async (t) => {
  const { get } = await app(t, (ctx) => {
    if (ctx.path === '/teapot') ctx.status = 418;
  });
  const unanswered = await get('/nothing');
  t.is(unanswered.status, 404);
  t.is(unanswered.body.toString(), errorPageBody(404));
  const teapot = await get('/teapot');
  t.is(teapot.status, 418);
  t.is(teapot.headers['content-type'], 'text/html');
});

test('a backend error status with its own body passes through', async (t) => {
  const { get } = await app(t, (ctx) => {
    ctx.status = 404;
    ctx.body = Buffer.alloc(0);
  });
  const response = await get('/');
  t.is(response.status, 404);
  t.is(response.headers['content-length'], '0');
});

test('HEAD gets the error status and length, no body', async (t) => {
  const { get } = await app(t, () => {
    throw new BadRequestTarget('bad');
  });
  const response = await get('/', 'HEAD');
  t.is(response.status, 400);
  t.is(response.headers['content-length'], '345');
  t.is(response.body.length, 0);
});
