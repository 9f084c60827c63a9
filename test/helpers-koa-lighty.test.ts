import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { startKoaLighty } from './helpers/koa-lighty.js';

// CI once failed because a start-up warning was missing from output(): the test ran on between
// reading koa-lighty's stdout ("listening on") and its stderr, both ready in one loop turn.
test('startKoaLighty() returns with the start-up warnings already in output(), even from a busy test process', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'koa-lighty-helper-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const conf = `server.document-root = "${root}"\nserver.error-intercept = "enable"\nserver.port = PORT\nserver.bind = "127.0.0.1"\n`;
  for (let round = 1; round <= 3; round++) {
    // Keep this process busy a second at a time: koa-lighty starts and prints while it cannot read.
    const busy = setInterval(() => {
      const until = Date.now() + 1000;
      while (Date.now() < until) {}
    }, 10);
    const server = await startKoaLighty({ conf }).finally(() => clearInterval(busy));
    const output = server.output();
    await server.stop();
    t.regex(output, /listening on/, `round ${round}`);
    t.regex(output, /warning: .*server\.error-intercept/, `round ${round}: ${output}`);
  }
});
