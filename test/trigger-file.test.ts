import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import Koa from 'koa';
import { memoryLogger } from '../src/log.js';
import { triggerBeforeDownload } from '../src/middleware/trigger.js';
import { fileStore } from '../src/stores/file.js';
import { rawRequest, serve } from './helpers/http.js';

/** Starts a koa-lighty-like app on the file store at `path`; stop() is its shutdown. */
async function start(path: string, now: () => number) {
  const store = fileStore(path);
  const app = new Koa();
  app.use(
    triggerBeforeDownload({
      triggerUrl: '^/$',
      downloadUrl: '\\.zip$',
      denyUrl: '/visit',
      timeout: 30,
      store,
      now,
      log: memoryLogger(),
    }),
  );
  app.use((ctx) => {
    ctx.body = 'ok';
  });
  const served = await serve(app);
  return {
    get: (path: string) => rawRequest(served.port, path),
    stop: async () => {
      await served.close();
      await store.close();
    },
  };
}

test('file store: a visit survives a restart of the server', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'koa-lighty-trigger-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'trigger.mdb');
  let seconds = 1_700_000_000;
  const now = () => seconds * 1000;

  const before = await start(path, now);
  t.is((await before.get('/a.zip')).status, 307);
  await before.get('/');
  await before.stop();

  seconds += 20;
  const after = await start(path, now);
  t.teardown(() => after.stop());
  t.is((await after.get('/a.zip')).status, 200, 'remembered across the restart');
  seconds += 31;
  t.is((await after.get('/a.zip')).status, 307, 'and still expires by age');
});
