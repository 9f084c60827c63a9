import test, { type ExecutionContext } from 'ava';
import Koa from 'koa';
import memjs from 'memjs';
import { memoryLogger } from '../src/log.js';
import { type TriggerOptions, triggerBeforeDownload } from '../src/middleware/trigger.js';
import { memcachedStore } from '../src/stores/memcached.js';
import { DEADLINE_SLACK_MS, lateHeader } from './helpers/deadline.js';
import { type RawResponse, rawRequest, serve } from './helpers/http.js';
import { startMemcached, startSilentServer } from './helpers/memcached.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One koa-lighty instance: trigger-before-download on memcached in front of a site answering 200.
 * The deadline is 2 s unless a test is about it: a loaded machine must not fail the others.
 */
async function instance(t: ExecutionContext, servers: string[], options: Partial<TriggerOptions> = {}) {
  const log = memoryLogger();
  const deadlineMs = options.deadlineMs ?? 2_000;
  const store = memcachedStore({ servers, namespace: 'trigger_', deadlineMs });
  const app = new Koa();
  app.use(lateHeader(deadlineMs));
  app.use(
    triggerBeforeDownload({
      triggerUrl: '(/$|\\.php)',
      downloadUrl: '(\\.mpe?g|\\.wmv)',
      denyUrl: 'http://127.0.0.1/visit-first',
      timeout: 10,
      store,
      log,
      ...options,
      deadlineMs,
    }),
  );
  app.use((ctx) => {
    ctx.body = `served ${ctx.path}`;
  });
  const served = await serve(app);
  t.teardown(async () => {
    await served.close();
    await store.close();
  });
  const get = (path: string, headers: Record<string, string> = {}) => rawRequest(served.port, path, headers);
  return { get, log };
}

/** A response, and how long after the instance's deadline it was made (negative: before). */
function timed(response: RawResponse): { value: RawResponse; lateMs: number } {
  return { value: response, lateMs: Number(response.headers['x-test-late-ms']) };
}

test('memcached: download first → 307 with Location; after a visit → 200', async (t) => {
  const memcached = await startMemcached();
  t.teardown(() => memcached.stop());
  const site = await instance(t, [memcached.server]);
  const denied = await site.get('/movies/clip.mpg');
  t.is(denied.status, 307);
  t.is(denied.headers['location'], 'http://127.0.0.1/visit-first');
  t.is(denied.body.length, 0);
  t.is((await site.get('/')).status, 200);
  t.is((await site.get('/movies/clip.mpg')).status, 200);
  t.is((await site.get('/movies/clip.wmv')).status, 200);
});

test('memcached: the entry is lighttpd’s — namespace+identity, 8-byte LE time, read back with memjs', async (t) => {
  const memcached = await startMemcached();
  t.teardown(() => memcached.stop());
  const site = await instance(t, [memcached.server]);
  const before = Math.floor(Date.now() / 1000);
  await site.get('/index.php');
  const after = Math.floor(Date.now() / 1000);
  const raw = memjs.Client.create(memcached.server, { retries: 0, logger: { log() {} } });
  t.teardown(() => raw.close());
  const { value } = await raw.get('trigger_127.0.0.1');
  t.is(value?.length, 8);
  const stored = Number(value!.readBigInt64LE());
  t.true(stored >= before && stored <= after);
});

test('memcached: an entry lighttpd stored lets the download through here', async (t) => {
  const memcached = await startMemcached();
  t.teardown(() => memcached.stop());
  const site = await instance(t, [memcached.server]);
  const raw = memjs.Client.create(memcached.server, { retries: 0, logger: { log() {} } });
  t.teardown(() => raw.close());
  const value = Buffer.alloc(8);
  value.writeBigInt64LE(BigInt(Math.floor(Date.now() / 1000)));
  await raw.set('trigger_127.0.0.1', value, { expires: 10 });
  t.is((await site.get('/movies/clip.mpg')).status, 200);
});

test('memcached: the window slides with each download, then the item expires', async (t) => {
  const memcached = await startMemcached();
  t.teardown(() => memcached.stop());
  // memcached's clock ticks once a second: a 5 s item lives 4 to 5 s, or 3 s when a tick
  // comes late. Downloads 1.5 s apart keep it alive with time to spare for a loaded machine;
  // the last one comes 6 s after the visit, which alone would have been forgotten by then.
  const site = await instance(t, [memcached.server], { timeout: 5 });
  await site.get('/');
  const visited = Date.now();
  for (let i = 1; i <= 4; i++) {
    await sleep(1_500);
    const seconds = ((Date.now() - visited) / 1000).toFixed(1);
    t.is((await site.get('/a.mpg')).status, 200, `download ${i}, ${seconds} s after the visit`);
  }
  await sleep(7_000);
  t.is((await site.get('/a.mpg')).status, 307, '7 s after the last download');
});

test('memcached: two instances share one memcached (visit on one, download on the other)', async (t) => {
  const memcached = await startMemcached();
  t.teardown(() => memcached.stop());
  const options = { trustedProxies: ['127.0.0.1'] };
  const first = await instance(t, [memcached.server], options);
  const second = await instance(t, [memcached.server], options);
  await first.get('/', { 'X-Forwarded-For': '198.51.100.7' });
  t.is((await second.get('/a.mpg', { 'X-Forwarded-For': '198.51.100.7' })).status, 200);
  t.is((await second.get('/a.mpg', { 'X-Forwarded-For': '198.51.100.8' })).status, 307);
  await second.get('/', { 'X-Forwarded-For': '198.51.100.8' });
  t.is((await first.get('/a.mpg', { 'X-Forwarded-For': '198.51.100.8' })).status, 200);
});

test('memcached stopped: 307 within the deadline, logged once; restarted: works again, logged', async (t) => {
  const memcached = await startMemcached();
  t.teardown(() => memcached.stop());
  const site = await instance(t, [memcached.server], { deadlineMs: 1_000 });
  await site.get('/');
  t.is((await site.get('/a.mpg')).status, 200);

  await memcached.stop();
  const answers = await Promise.all(Array.from({ length: 20 }, async () => timed(await site.get('/a.mpg'))));
  for (const { value, lateMs } of answers) {
    t.is(value.status, 307);
    t.is(value.headers['location'], 'http://127.0.0.1/visit-first');
    t.true(lateMs < DEADLINE_SLACK_MS, `answered ${Math.round(lateMs)} ms after the deadline`);
  }
  const page = timed(await site.get('/'));
  t.is(page.value.status, 200, 'trigger pages are still served');
  t.true(page.lateMs < DEADLINE_SLACK_MS);
  t.is(site.log.lines.length, 1, site.log.lines.join('\n'));
  t.regex(site.log.lines[0]!, /memcached unreachable \(.+\); downloads are denied until it answers/);

  await memcached.restart();
  t.is((await site.get('/a.mpg')).status, 307, 'a restarted memcached has forgotten the visit');
  t.is((await site.get('/')).status, 200);
  t.is((await site.get('/a.mpg')).status, 200);
  t.is(site.log.lines.length, 2);
  t.regex(site.log.lines[1]!, /memcached answers again after 21 failed calls/);
});

test('memcached silent (accepts, never answers): 307 within the deadline', async (t) => {
  const silent = await startSilentServer();
  t.teardown(() => silent.close());
  const site = await instance(t, [silent.server], { deadlineMs: 300 });
  for (let i = 0; i < 3; i++) {
    const { value, lateMs } = timed(await site.get('/a.mpg'));
    t.is(value.status, 307);
    t.true(lateMs < DEADLINE_SLACK_MS, `answered ${Math.round(lateMs)} ms after the deadline`);
  }
  const page = timed(await site.get('/'));
  t.is(page.value.status, 200);
  t.true(page.lateMs < DEADLINE_SLACK_MS);
  t.is(site.log.lines.length, 1);
  t.true(silent.accepted >= 1, 'the requests really went to the silent server');
});

test('memcached down with failOpen: downloads go through, and the log says so', async (t) => {
  const memcached = await startMemcached();
  t.teardown(() => memcached.stop());
  const site = await instance(t, [memcached.server], { failOpen: true });
  t.is((await site.get('/a.mpg')).status, 307, 'up and no visit: denied as usual');
  await memcached.stop();
  t.is((await site.get('/a.mpg')).status, 200);
  t.is((await site.get('/b.wmv')).status, 200);
  t.is(site.log.lines.length, 1);
  t.regex(site.log.lines[0]!, /memcached unreachable .*let through \(failOpen\)/);
});
