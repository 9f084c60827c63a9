/**
 * Slowloris, bounded: hundreds of connections that each send a byte of a never-ending head
 * every two seconds (inside every idle limit) must not keep other clients from their answers,
 * under the koa-lighty command with lighttpd's defaults, as under lighttpd. bench/slowloris.ts
 * measures the same with more connections and the answers' latency.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { type CliPair, startCliPair } from './helpers/cli-pair.js';
import { rawRequest } from './helpers/http.js';
import { RawConnection } from './helpers/raw-connection.js';
import { eventually } from './helpers/wait.js';

const SLOW = 300;
const root = mkdtempSync(join(tmpdir(), 'koa-lighty-slowloris-'));
writeFileSync(join(root, 'index.html'), 'still here\n');

let pair: CliPair | undefined;
test.before(async () => {
  pair = await startCliPair(() => `server.document-root = "${root}"\n`);
});
test.after.always(async () => {
  await pair?.close();
  rmSync(root, { recursive: true, force: true });
});

test('slow heads on hundreds of connections do not keep other clients from their answers', async (t) => {
  for (const [name, port] of pair!.servers) {
    const slow = await Promise.all(Array.from({ length: SLOW }, () => RawConnection.open(port)));
    let rounds = 0;
    const trickle = setInterval(() => {
      for (const c of slow) c.write('a');
      rounds++;
    }, 2000);
    try {
      for (const c of slow) c.write('GET /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
      // A byte has trickled on every one of them before the others come.
      await eventually(() => rounds > 0, 10_000);
      const answers = await Promise.all(Array.from({ length: 20 }, () => rawRequest(port, '/index.html')));
      t.deepEqual(
        answers.map((a) => a.status),
        Array(20).fill(200),
        name,
      );
      t.true(
        answers.every((a) => a.body.toString() === 'still here\n'),
        name,
      );
      // They were really held, not turned away.
      t.true(await eventually(() => slow.every((c) => !c.closed && c.bytes === 0), 1000), name);
    } finally {
      clearInterval(trickle);
      for (const c of slow) c.destroy();
    }
  }
});
