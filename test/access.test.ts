import test from 'ava';
import Koa from 'koa';
import { errorPageBody } from '../src/http/error-page.js';
import { memoryLogger } from '../src/log.js';
import { type AccessDenyOptions, accessDeny, isDenied } from '../src/middleware/access.js';
import { lighttpdErrors } from '../src/middleware/errors.js';
import { resolveRequestFile, staticFiles } from '../src/middleware/static.js';
import { rawRequest, serve } from './helpers/http.js';
import { FIXTURE_WWW } from './helpers/lighttpd.js';

/** accessDeny() in front of staticFiles, as a Koa user mounts it. */
async function site(t: import('ava').ExecutionContext, ...rules: AccessDenyOptions[]) {
  const app = new Koa();
  app.use(lighttpdErrors({ log: memoryLogger() }));
  for (const rule of rules) app.use(accessDeny(rule));
  app.use(staticFiles({ documentRoot: FIXTURE_WWW, indexFiles: ['index.html'], log: memoryLogger() }));
  const served = await serve(app);
  t.teardown(served.close);
  return (path: string, headers: Record<string, string> = {}, method = 'GET') =>
    rawRequest(served.port, path, headers, method);
}

test('isDenied: suffixes, byte-wise and case-sensitive unless asked', (t) => {
  t.true(isDenied('/config.inc', { deny: ['.inc'] }));
  t.false(isDenied('/CONFIG.INC', { deny: ['.inc'] }));
  t.true(isDenied('/CONFIG.INC', { deny: ['.inc'], caseInsensitive: true }));
  t.true(isDenied('/anything', { deny: [''] }));
  t.false(isDenied('/anything', { deny: [] }));
  t.false(isDenied('/anything', {}));
});

test('isDenied: a non-empty allow list wins and the deny list is ignored', (t) => {
  const rule = { allow: ['.html', '.jpg'], deny: ['.jpg'] };
  t.false(isDenied('/pic.jpg', rule));
  t.false(isDenied('/index.html', rule));
  t.true(isDenied('/', rule));
  t.true(isDenied('/range.txt', rule));
  t.false(isDenied('/x.inc', { allow: [], deny: ['.txt'] }));
});

test('spec 5.1: denied before any file check, for any method; query ignored; %2e decoded', async (t) => {
  const get = await site(t, { deny: ['.inc'] });
  for (const path of [
    '/config.inc',
    '/config.inc/',
    '/config%2einc',
    '/config.inc?x=1',
    '/x.inc',
    '/no/such/x.inc',
  ])
    t.is((await get(path)).status, 403, path);
  const denied = await get('/config.inc', {}, 'DELETE');
  t.is(denied.status, 403);
  t.is(denied.body.toString(), errorPageBody(403));
  t.is((await get('/config.inc', {}, 'OPTIONS')).status, 403);
  t.is((await get('/CONFIG.INC')).status, 404, 'case-sensitive: no such file, not denied');
  t.is((await get('/range.txt')).status, 200);
});

test('spec 5.1: the index file appended before check #2', async (t) => {
  const get = await site(t, { deny: ['index.html'] });
  t.is((await get('/sub/')).status, 403);
  t.is((await get('/')).status, 403);
  t.is((await get('/sub/page.txt')).status, 200);
});

test('spec 5.1: with an allow list, check #1 sees `/` itself', async (t) => {
  const get = await site(t, { allow: ['.html'] });
  t.is((await get('/')).status, 403);
  t.is((await get('/index.html')).status, 200);
  t.is((await get('/pic.jpg')).status, 403);
});

test('caseInsensitive (server.force-lowercase-filenames)', async (t) => {
  const get = await site(t, { deny: ['.INC'], caseInsensitive: true });
  t.is((await get('/config.inc')).status, 403);
  t.is((await get('/CONFIG.INC')).status, 403);
  t.is((await get('/config.inc/x')).status, 403);
});

test('phase "uri" alone misses `/config.inc/`; "both" (the default) catches it', async (t) => {
  const uriOnly = await site(t, { deny: ['.inc'], phase: 'uri' });
  t.is((await uriOnly('/config.inc/')).status, 200, 'served through path-info: why check #2 exists');
  t.is((await uriOnly('/config.inc')).status, 403);
  const physicalOnly = await site(t, { deny: ['.inc'], phase: 'physical' });
  t.is((await physicalOnly('/config.inc/')).status, 403);
  t.is((await physicalOnly('/x.inc')).status, 404, 'no check #1: the file step answers first');
});

test('ruleFor: the effective lists computed per request', async (t) => {
  const get = await site(t, {
    ruleFor: (ctx) => (ctx.get('X-Zone') === 'private' ? { deny: ['.txt'] } : undefined),
  });
  t.is((await get('/range.txt', { 'X-Zone': 'private' })).status, 403);
  t.is((await get('/sub/page.txt/x', { 'X-Zone': 'private' })).status, 403);
  t.is((await get('/range.txt')).status, 200);
});

test('several rules all apply, at both checks', async (t) => {
  const get = await site(t, { deny: ['.inc'] }, { deny: ['.txt'] });
  t.is((await get('/config.inc/')).status, 403);
  t.is((await get('/range.txt/x')).status, 403);
  t.is((await get('/pic.jpg')).status, 200);
});

/** The wiki's hotlink rule in its Koa form (design.md section 3). */
const hotlink: AccessDenyOptions = {
  deny: ['.jpg', '.jpeg', '.png'],
  when: (ctx) => !/^($|http:\/\/www\.example\.org)/.test(ctx.get('Referer')),
};

test('spec 5.2: the hotlink rule and the referer table', async (t) => {
  const get = await site(t, hotlink);
  const table: Array<[Record<string, string>, number]> = [
    [{}, 200],
    [{ Referer: '' }, 200],
    [{ Referer: 'http://www.example.org/page' }, 200],
    [{ Referer: 'http://www.example.org.evil.com/' }, 200],
    [{ Referer: 'https://www.example.org/' }, 403],
    [{ Referer: 'http://evil.example/' }, 403],
    [{ Referer: '\xff' }, 403],
  ];
  for (const [headers, status] of table)
    t.is((await get('/pic.jpg', headers)).status, status, JSON.stringify(headers));
});

test('spec 5.2: `/pic.jpg/x` from another site is denied by check #2', async (t) => {
  const get = await site(t, hotlink);
  t.is((await get('/pic.jpg/x', { Referer: 'http://evil.example/' })).status, 403);
  t.is((await get('/pic.jpg/', { Referer: 'http://evil.example/' })).status, 403);
  t.is((await get('/pic.jpg/x', { Referer: 'http://www.example.org/' })).status, 200);
  t.is((await get('/index.html', { Referer: 'http://evil.example/' })).status, 200);
});

test('when is evaluated once per request, at check #1', async (t) => {
  let calls = 0;
  const get = await site(t, {
    deny: ['.jpg'],
    when: () => {
      calls++;
      return true;
    },
  });
  t.is((await get('/pic.jpg/x')).status, 403);
  t.is(calls, 1);
});

test('resolveRequestFile reports check #2 to another stage (the FastCGI bridge)', async (t) => {
  const app = new Koa();
  app.use(accessDeny({ deny: ['.inc'] }));
  app.use(async (ctx) => {
    const found = await resolveRequestFile(ctx, { documentRoot: FIXTURE_WWW });
    ctx.body = found.kind;
  });
  const served = await serve(app);
  t.teardown(served.close);
  t.is((await rawRequest(served.port, '/config.inc/x')).body.toString(), 'denied');
  t.is((await rawRequest(served.port, '/range.txt/x')).body.toString(), 'file');
});

test('alone, without a file stage, it is check #1 in front of any handler', async (t) => {
  const app = new Koa();
  app.use(accessDeny({ deny: ['/admin'] }));
  app.use((ctx) => {
    ctx.body = 'handled';
  });
  const served = await serve(app);
  t.teardown(served.close);
  t.is((await rawRequest(served.port, '/admin')).status, 403);
  t.is((await rawRequest(served.port, '/x/../admin')).status, 403, 'normalised path');
  t.is((await rawRequest(served.port, '/admin/')).body.toString(), 'handled');
});
