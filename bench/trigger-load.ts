/**
 * Issue 6's load check: 2,000 distinct visitors at once through one memcached, each either
 * visiting the site first or not, then downloading. Every answer must be the right one: 200
 * after a visit, 307 without. Identities come from X-Forwarded-For, believed because the
 * config lists 127.0.0.1 as a trusted proxy. Run: node --import tsx bench/trigger-load.ts
 */

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKoaLighty } from '../test/helpers/koa-lighty.js';
import { startMemcached } from '../test/helpers/memcached.js';

const VISITORS = Number(process.env.TRIGGER_VISITORS ?? 2000);
const CONCURRENCY = Number(process.env.TRIGGER_CONCURRENCY ?? 64);

function get(port: number, agent: Agent, path: string, identity: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, agent, headers: { 'X-Forwarded-For': identity } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function main(): Promise<void> {
  const docroot = mkdtempSync(join(tmpdir(), 'koa-lighty-trigger-load-'));
  writeFileSync(join(docroot, 'index.html'), 'home\n');
  writeFileSync(join(docroot, 'film.mpg'), Buffer.alloc(1024, 1));
  const memcached = await startMemcached();
  const server = await startKoaLighty({
    conf: `server.modules = ("mod_trigger_b4_dl")
server.document-root = "${docroot}"
server.bind = "127.0.0.1"
server.port = PORT
index-file.names = ("index.html")
trigger-before-download.memcache-hosts = ("127.0.0.1:${memcached.port}")
trigger-before-download.memcache-namespace = "load_"
trigger-before-download.trigger-url = "(/$|\\.php)"
trigger-before-download.download-url = "(\\.mpe?g|\\.wmv)"
trigger-before-download.deny-url = "/visit-first.html"
trigger-before-download.trigger-timeout = 600
trigger-before-download.trusted-proxies = ("127.0.0.1")
`,
  });
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  let wrong = 0;
  const mistakes: string[] = [];
  const started = Date.now();
  // Visitor i is 10.(i>>16).(i>>8).(i&255); even ones visit first, odd ones go straight to the file.
  const visitor = async (i: number) => {
    const identity = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    const visits = i % 2 === 0;
    if (visits) await get(server.port, agent, '/', identity);
    const first = await get(server.port, agent, '/film.mpg', identity);
    const second = await get(server.port, agent, '/film.mpg', identity);
    const expected = visits ? 200 : 307;
    for (const status of [first, second]) {
      if (status !== expected) {
        wrong++;
        if (mistakes.length < 10) mistakes.push(`${identity}: expected ${expected}, got ${status}`);
      }
    }
  };
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < VISITORS) await visitor(next++);
    }),
  );
  const seconds = (Date.now() - started) / 1000;
  const requests = VISITORS * 2 + VISITORS / 2;
  agent.destroy();
  await server.stop();
  await memcached.stop();
  rmSync(docroot, { recursive: true, force: true });
  console.log(
    `${VISITORS} visitors, ${requests} requests with ${CONCURRENCY} at once in ${seconds.toFixed(1)} s ` +
      `(${Math.round(requests / seconds)} req/s): ${wrong} wrong decisions`,
  );
  for (const line of mistakes) console.log(`  ${line}`);
  console.log(wrong === 0 ? 'PASS' : 'FAIL');
  process.exitCode = wrong === 0 ? 0 : 1;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
