import test, { type ExecutionContext } from 'ava';
import Koa from 'koa';
import { memoryLogger } from '../src/log.js';
import { type TriggerOptions, triggerBeforeDownload } from '../src/middleware/trigger.js';
import type { TriggerStore } from '../src/stores/types.js';
import { DEADLINE_SLACK_MS, lateHeader } from './helpers/deadline.js';
import { rawRequest, serve } from './helpers/http.js';

/**
 * The middleware in front of a site that answers 200 for anything under /files/, 404 else.
 * Given a deadlineMs, answers carry X-Test-Late-Ms against it (helpers/deadline.ts).
 */
async function site(t: ExecutionContext, options: Partial<TriggerOptions> = {}) {
  const log = memoryLogger();
  const trigger = triggerBeforeDownload({
    triggerUrl: '^/(index\\.html)?$',
    downloadUrl: '^/files/',
    denyUrl: 'http://127.0.0.1/please-visit-first',
    timeout: 10,
    log,
    ...options,
  });
  const app = new Koa();
  app.silent = true;
  if (options.deadlineMs !== undefined) app.use(lateHeader(options.deadlineMs));
  app.use(trigger);
  app.use((ctx) => {
    if (ctx.path === '/' || ctx.path.startsWith('/files/')) ctx.body = `served ${ctx.path}`;
  });
  const served = await serve(app);
  t.teardown(async () => {
    await served.close();
    await trigger.store.close();
  });
  return { port: served.port, log, store: trigger.store };
}

/** A clock the test moves by hand, in whole seconds. */
function clock(start = 1_700_000_000) {
  let seconds = start;
  return { now: () => seconds * 1000, advance: (by: number) => (seconds += by) };
}

test('a download without a visit: 307 to the deny-url, empty body, Content-Length 0', async (t) => {
  const { port } = await site(t);
  const response = await rawRequest(port, '/files/movie.mpg');
  t.is(response.status, 307);
  t.is(response.headers['location'], 'http://127.0.0.1/please-visit-first');
  t.is(response.headers['content-length'], '0');
  t.false('content-type' in response.headers);
  t.is(response.body.length, 0);
});

test('deny-url "" answers 307 without any Location', async (t) => {
  const { port } = await site(t, { denyUrl: '' });
  const response = await rawRequest(port, '/files/movie.mpg');
  t.is(response.status, 307);
  t.false('location' in response.headers);
  t.is(response.body.length, 0);
});

test('a visit to a trigger page, then the download is served', async (t) => {
  const { port } = await site(t);
  t.is((await rawRequest(port, '/')).status, 200);
  const response = await rawRequest(port, '/files/movie.mpg');
  t.is(response.status, 200);
  t.is(response.body.toString(), 'served /files/movie.mpg');
});

test('pages that are neither trigger nor download never touch the store', async (t) => {
  const store = failingStore();
  const { port, log } = await site(t, { store });
  t.is((await rawRequest(port, '/about.html')).status, 404);
  t.is(store.calls, 0);
  t.deepEqual(log.lines, []);
});

test('the window slides with each download and then expires (spec 4.3, timeout 5)', async (t) => {
  const time = clock();
  const { port } = await site(t, { timeout: 5, now: time.now });
  await rawRequest(port, '/');
  time.advance(3);
  t.is((await rawRequest(port, '/files/a.zip')).status, 200, 't+3');
  time.advance(5);
  t.is((await rawRequest(port, '/files/a.zip')).status, 200, 't+8: 5 s after the refresh, inclusive');
  time.advance(6);
  t.is((await rawRequest(port, '/files/a.zip')).status, 307, 't+14: 6 s after the last one');
  time.advance(0);
  t.is((await rawRequest(port, '/files/a.zip')).status, 307, 'the stale entry was deleted, not refreshed');
});

test('timeout 0 in a by-age store allows the same second only, like lighttpd’s gdbm', async (t) => {
  const time = clock();
  const { port } = await site(t, { timeout: 0, now: time.now });
  await rawRequest(port, '/');
  t.is((await rawRequest(port, '/files/a.zip')).status, 200);
  time.advance(1);
  t.is((await rawRequest(port, '/files/a.zip')).status, 307);
});

test('a trigger counts even when the trigger page itself is a 404', async (t) => {
  const { port } = await site(t, { triggerUrl: '^/welcome' });
  t.is((await rawRequest(port, '/welcome-missing.html')).status, 404);
  t.is((await rawRequest(port, '/files/a.zip')).status, 200);
});

test('a URL that is both trigger and download lets itself through', async (t) => {
  const { port } = await site(t, { triggerUrl: '^/files/free/', downloadUrl: '^/files/' });
  t.is((await rawRequest(port, '/files/paid/a.zip')).status, 307);
  t.is((await rawRequest(port, '/files/free/a.zip')).status, 200);
  t.is((await rawRequest(port, '/files/paid/a.zip')).status, 200);
});

test('the regexes see the normalised path, and only the path', async (t) => {
  const { port } = await site(t);
  t.is((await rawRequest(port, '/%66iles/a.zip')).status, 307, 'percent-encoded download path');
  t.is((await rawRequest(port, '//files/a.zip')).status, 307, 'doubled slash');
  t.is((await rawRequest(port, '/x/../files/a.zip')).status, 307, 'dot-segments');
  t.is((await rawRequest(port, '/about.html?/')).status, 404, 'a query that looks like a trigger');
  t.is((await rawRequest(port, '/files/a.zip')).status, 307, 'so still no visit');
  await rawRequest(port, '/%69ndex.html'); // a percent-encoded trigger (the page itself is a 404 here)
  t.is((await rawRequest(port, '/files/a.zip')).status, 200, 'the encoded trigger counted');
  t.is((await rawRequest(port, '/FILES/a.zip')).status, 404, 'case-sensitive: not a download');
});

test('a bad request-target is a 400 before any store call', async (t) => {
  const store = failingStore();
  const { port } = await site(t, { store });
  t.is((await rawRequest(port, '/files/%00.zip')).status, 400);
  t.is(store.calls, 0);
});

test('the wiki’s recipe: trigger "(/$|\\.php)", download "(\\.mpe?g|\\.wmv)"', async (t) => {
  const app = new Koa();
  const trigger = triggerBeforeDownload({
    triggerUrl: '(/$|\\.php)',
    downloadUrl: '(\\.mpe?g|\\.wmv)',
    denyUrl: 'http://127.0.0.1/',
    timeout: 10,
    log: memoryLogger(),
  });
  app.use(trigger);
  app.use((ctx) => {
    ctx.body = 'ok';
  });
  const served = await serve(app);
  t.teardown(() => served.close());
  for (const path of ['/movies/clip.mpg', '/movies/clip.mpeg', '/movies/clip.wmv']) {
    t.is((await rawRequest(served.port, path)).status, 307, path);
  }
  t.is((await rawRequest(served.port, '/movies/readme.txt')).status, 200, 'neither');
  t.is((await rawRequest(served.port, '/movies/readme.txt')).status, 200);
  t.is((await rawRequest(served.port, '/movies/clip.wmv')).status, 307, 'a plain page is no trigger');
  t.is((await rawRequest(served.port, '/gallery/')).status, 200, 'a directory is a trigger');
  for (const path of ['/movies/clip.mpg', '/movies/clip.mpeg', '/movies/clip.wmv']) {
    t.is((await rawRequest(served.port, path)).status, 200, path);
  }
  await trigger.store.close();
});

test('regexes with g or y flags still match on every request', async (t) => {
  const { port } = await site(t, { triggerUrl: /^\/$/g, downloadUrl: /^\/files\//gy });
  await rawRequest(port, '/');
  for (let i = 0; i < 3; i++) t.is((await rawRequest(port, '/files/a.zip')).status, 200);
});

test('the options are checked at start', (t) => {
  const base = { triggerUrl: '/', downloadUrl: '\\.zip$', denyUrl: '/visit' };
  t.notThrows(() => triggerBeforeDownload(base).store.close());
  t.throws(() => triggerBeforeDownload({ ...base, denyUrl: undefined as unknown as string }), {
    message: /denyUrl/,
  });
  t.throws(() => triggerBeforeDownload({ ...base, triggerUrl: '' }), { message: /triggerUrl/ });
  t.throws(() => triggerBeforeDownload({ ...base, downloadUrl: undefined as unknown as string }), {
    message: /downloadUrl/,
  });
  t.throws(() => triggerBeforeDownload({ ...base, downloadUrl: '(' }), { message: /regular expression/ });
  t.throws(() => triggerBeforeDownload({ ...base, timeout: -1 }), { message: /timeout/ });
  t.throws(() => triggerBeforeDownload({ ...base, timeout: 1.5 }), { message: /timeout/ });
  t.throws(() => triggerBeforeDownload({ ...base, trustedProxies: ['10.0.0.0/33'] }), { message: /prefix/ });
  t.throws(() => triggerBeforeDownload({ ...base, trustedProxies: ['proxy.example'] }), {
    message: /not an address/,
  });
});

/** A store that fails while `down`, counting calls. */
function failingStore(): TriggerStore & { down: boolean; calls: number } {
  const entries = new Map<string, number>();
  const store = {
    name: 'test store',
    freshness: 'by-age' as const,
    down: true,
    calls: 0,
    async get(identity: string) {
      store.calls++;
      if (store.down) throw new Error('connection refused');
      return entries.get(identity);
    },
    async set(identity: string, time: number) {
      store.calls++;
      if (store.down) throw new Error('connection refused');
      entries.set(identity, time);
    },
    async delete(identity: string) {
      store.calls++;
      entries.delete(identity);
    },
    async close() {},
  };
  return store;
}

test('a failing store: downloads denied, trigger pages served, one log line per outage', async (t) => {
  const store = failingStore();
  const { port, log } = await site(t, { store });
  t.is((await rawRequest(port, '/')).status, 200, 'the trigger page is served');
  for (let i = 0; i < 5; i++) t.is((await rawRequest(port, '/files/a.zip')).status, 307);
  t.is(log.lines.length, 1);
  t.regex(
    log.lines[0]!,
    /^\(mod_trigger_b4_dl\) test store unreachable \(connection refused\); downloads are denied/,
  );

  store.down = false;
  t.is((await rawRequest(port, '/')).status, 200);
  t.is((await rawRequest(port, '/files/a.zip')).status, 200);
  t.is(log.lines.length, 2);
  t.regex(log.lines[1]!, /test store answers again after 6 failed calls/);

  store.down = true;
  t.is((await rawRequest(port, '/files/a.zip')).status, 307);
  t.is(log.lines.length, 3, 'a new outage is logged again');
});

test('failOpen lets downloads through while the store fails', async (t) => {
  const store = failingStore();
  const { port, log } = await site(t, { store, failOpen: true });
  t.is((await rawRequest(port, '/files/a.zip')).status, 200);
  t.is((await rawRequest(port, '/files/a.zip')).status, 200);
  t.is(log.lines.length, 1);
  t.regex(log.lines[0]!, /let through \(failOpen\)/);
  store.down = false;
  t.is((await rawRequest(port, '/files/a.zip')).status, 307, 'a working store without a visit still denies');
});

test('a store that never answers is given up on within the deadline', async (t) => {
  const hanging: TriggerStore = {
    name: 'hanging store',
    freshness: 'by-age',
    get: () => new Promise(() => {}),
    set: () => new Promise(() => {}),
    delete: () => new Promise(() => {}),
    async close() {},
  };
  const { port, log } = await site(t, { store: hanging, deadlineMs: 150 });
  for (const path of ['/', '/files/a.zip']) {
    const response = await rawRequest(port, path);
    t.is(response.status, path === '/' ? 200 : 307);
    const lateMs = Number(response.headers['x-test-late-ms']);
    t.true(lateMs < DEADLINE_SLACK_MS, `${path} answered ${Math.round(lateMs)} ms after the deadline`);
  }
  t.is(log.lines.length, 1);
  t.regex(log.lines[0]!, /hanging store unreachable \(hanging store set gave no answer within 150 ms\)/);
});

test('debug logs each decision with the identity', async (t) => {
  const { port, log } = await site(t, { debug: true });
  await rawRequest(port, '/files/a.zip');
  await rawRequest(port, '/');
  t.deepEqual(log.lines, [
    '(mod_trigger_b4_dl) deny download /files/a.zip for 127.0.0.1',
    '(mod_trigger_b4_dl) trigger / for 127.0.0.1',
  ]);
});
