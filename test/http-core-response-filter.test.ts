import test from 'ava';
import Koa from 'koa';
import { memoryLogger } from '../src/log.js';
import { lighttpdErrors } from '../src/middleware/errors.js';
import { isInternalHeader, stripInternalHeaders } from '../src/middleware/response-filter.js';
import { rawRequest, serve } from './helpers/http.js';

async function app(t: import('ava').ExecutionContext, handler: Koa.Middleware, server?: string) {
  const koa = new Koa();
  koa.silent = true;
  koa.use(stripInternalHeaders({ server }));
  koa.use(lighttpdErrors({ log: memoryLogger() }));
  koa.use(handler);
  const served = await serve(koa);
  t.teardown(served.close);
  return (path = '/') => rawRequest(served.port, path);
}

const INTERNAL = {
  'X-LIGHTTPD-send-file': '/etc/passwd',
  'x-lighttpd-kbytes-per-second': '10',
  'X-Lighttpd-Anything': 'y',
  'X-Sendfile': '/etc/passwd',
  'x-sendfile2': '/etc/passwd 0-10',
};

function internalOf(headers: Record<string, string>): string[] {
  return Object.keys(headers).filter(isInternalHeader);
}

test('isInternalHeader', (t) => {
  for (const name of Object.keys(INTERNAL)) t.true(isInternalHeader(name), name);
  for (const name of ['X-Sendfile-Type', 'X-Lighttpd', 'Content-Type', 'X-Accel-Redirect'])
    t.false(isInternalHeader(name), name);
});

test('removed from a normal answer, any case', async (t) => {
  const get = await app(t, (ctx) => {
    ctx.set(INTERNAL);
    ctx.set('X-Kept', 'yes');
    ctx.body = 'hi';
  });
  const response = await get();
  t.deepEqual(internalOf(response.headers), []);
  t.is(response.headers['x-kept'], 'yes');
});

test('removed from an error page and from a thrown error with headers', async (t) => {
  const get = await app(t, (ctx) => {
    ctx.set(INTERNAL);
    const err = Object.assign(new Error('x'), { status: 502, headers: INTERNAL, expose: true });
    throw err;
  });
  const response = await get();
  t.is(response.status, 502);
  t.deepEqual(internalOf(response.headers), []);
});

test('removed when a stage writes the head itself', async (t) => {
  const get = await app(t, (ctx) => {
    ctx.respond = false;
    if (ctx.path === '/array') ctx.res.writeHead(200, Object.entries(INTERNAL).flat());
    else ctx.res.writeHead(200, 'OK', INTERNAL);
    ctx.res.end('raw');
  });
  t.deepEqual(internalOf((await get('/object')).headers), []);
  t.deepEqual(internalOf((await get('/array')).headers), []);
});

test('Server: the tag, last after Date, unless a handler set its own', async (t) => {
  const get = await app(
    t,
    (ctx) => {
      if (ctx.path === '/own') ctx.set('Server', 'backend');
      ctx.body = 'x';
    },
    'lighttpd/1.4.69',
  );
  const response = await get();
  t.is(response.headers['server'], 'lighttpd/1.4.69');
  // Node adds `Connection` itself, after everything else.
  const names = response.headerLines.map((line) => line.split(':')[0]);
  t.is(names.indexOf('Server'), names.indexOf('Date') + 1);
  t.is(names.indexOf('Date'), names.indexOf('Content-Length') + 1);
  t.is((await get('/own')).headers['server'], 'backend');
});

test('no Server header without a tag', async (t) => {
  const get = await app(t, (ctx) => {
    ctx.body = 'x';
  });
  t.false('server' in (await get()).headers);
});
