/**
 * The pool against real php-cgi 8.2: what design §5 says php-cgi does is what these tests
 * rely on (kept connections, PHP_FCGI_MAX_REQUESTS, one connection per worker, abort by close).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import { getValues } from '../src/fastcgi/connection.js';
import { BackendPool } from '../src/fastcgi/pool.js';
import { phpParams, startPhpCgi } from './helpers/php-cgi.js';
import { eventually } from './helpers/wait.js';

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function php(t: import('ava').ExecutionContext, options: Parameters<typeof startPhpCgi>[0] = {}) {
  const server = await startPhpCgi(options);
  const pool = new BackendPool({ address: server.address });
  t.teardown(async () => {
    await pool.destroy();
    await server.stop();
  });
  return { server, pool };
}

async function getJson(
  pool: BackendPool,
  script: string,
  extra: Record<string, string> = {},
  body?: Readable,
) {
  const res = await pool.request({ params: phpParams(script, extra), body });
  return { res, json: JSON.parse((await readAll(res.body)).toString()) };
}

test('php-cgi answers FCGI_GET_VALUES with PHP_FCGI_CHILDREN', async (t) => {
  const { server } = await php(t, { children: 3 });
  const values = await getValues(server.address, ['FCGI_MAX_CONNS', 'FCGI_MAX_REQS', 'FCGI_MPXS_CONNS']);
  t.is(values.get('FCGI_MAX_CONNS'), '3');
  t.is(values.get('FCGI_MPXS_CONNS'), '0');
});

test('params (binary, long, over several records) and a 10 MiB STDIN stream reach PHP over a unix socket', async (t) => {
  // php.ini's post_max_size (8M by default) would make PHP answer without reading the body.
  const { pool } = await php(t, { socket: true, ini: { post_max_size: '64M' } });
  const size = 10 * 1024 * 1024;
  const block = Buffer.alloc(64 * 1024);
  for (let i = 0; i < block.length; i++) block[i] = (i * 7) % 256;
  const hash = createHash('sha1');
  let produced = 0;
  const upload = new Readable({
    read() {
      if (produced >= size) return void this.push(null);
      produced += block.length;
      hash.update(block);
      this.push(block);
    },
  });
  const { res, json } = await getJson(
    pool,
    'fcgi-echo.php',
    {
      REQUEST_METHOD: 'POST',
      CONTENT_LENGTH: String(size),
      CONTENT_TYPE: 'application/octet-stream',
      HTTP_X_CUSTOM: 'custom value',
      X_BINARY: '\u00ff\u0001\u00e9',
      X_LONG: 'l'.repeat(60_000),
      X_FILL_1: 'f'.repeat(40_000),
      X_FILL_2: 'f'.repeat(40_000),
    },
    upload,
  );
  t.is(res.status, 200);
  t.is(json.method, 'POST');
  t.is(json.custom, 'custom value');
  t.is(json.binary, 'ff01e9');
  t.is(json.long, 60_000);
  t.is(json.length, size);
  t.is(json.sha1, hash.digest('hex'));
  t.deepEqual(
    res.headers.filter(([n]) => n === 'Set-Cookie'),
    [
      ['Set-Cookie', 'a=1'],
      ['Set-Cookie', 'b=2'],
    ],
  );
});

test('error_log() lines arrive through STDERR', async (t) => {
  const { pool } = await php(t);
  const lines: string[] = [];
  const res = await pool.request({ params: phpParams('fcgi-stderr.php'), onStderr: (l) => lines.push(l) });
  t.is((await readAll(res.body)).toString(), 'ok');
  await res.ended;
  t.true(
    lines.some((l) => l.includes('fcgi-stderr: via error_log')),
    lines.join('\n'),
  );
});

test('PHP_FCGI_MAX_REQUESTS=2: 200 sequential requests all succeed (GET and POST)', async (t) => {
  const { pool } = await php(t, { children: 1, maxRequests: 2 });
  const pids = new Set<number>();
  for (let i = 0; i < 200; i++) {
    const post = i % 2 === 1;
    const body = post ? Readable.from([Buffer.from(`body ${i}`)]) : undefined;
    const extra: Record<string, string> = post
      ? { REQUEST_METHOD: 'POST', CONTENT_LENGTH: String(`body ${i}`.length), CONTENT_TYPE: 'text/plain' }
      : {};
    const { res, json } = await getJson(pool, 'fcgi-echo.php', extra, body);
    t.is(res.status, 200);
    t.is(json.length, post ? `body ${i}`.length : 0);
    pids.add(json.pid);
  }
  // Each worker served two requests, then a new one took over.
  t.true(pids.size >= 90, `${pids.size} workers`);
});

test('64 concurrent requests against 4 children all succeed, never more than 4 connections', async (t) => {
  const { pool } = await php(t, { children: 4 });
  let peak = 0;
  const results = await Promise.all(
    Array.from({ length: 64 }, async (_, i) => {
      const res = await pool.request({
        params: phpParams('fcgi-sleep.php', { QUERY_STRING: `ms=20&i=${i}` }),
      });
      peak = Math.max(peak, pool.connections);
      return (await readAll(res.body)).toString();
    }),
  );
  t.is(results.length, 64);
  t.true(results.every((r) => r.startsWith('slept ')));
  t.is(pool.maxConns, 4);
  t.true(peak <= 4, `peak ${peak}`);
  t.true(new Set(results).size >= 2, 'more than one worker served');
});

test('destroying a response mid-stream frees the only worker at once', async (t) => {
  const { server } = await php(t, { children: 1 });
  // A short queue timeout is the bound: with the only worker still held, the next request
  // fails with QueueTimeout. chunks=0 streams until the connection goes away.
  const pool = new BackendPool({ address: server.address, queueTimeout: 20_000 });
  t.teardown(() => pool.destroy());
  const res = await pool.request({
    params: phpParams('fcgi-stream.php', { QUERY_STRING: 'chunks=0&size=8192&delay=1000' }),
  });
  const reader = res.body[Symbol.asyncIterator]();
  t.truthy((await reader.next()).value);
  res.body.destroy();
  const next = await pool.request({ params: phpParams('fcgi-echo.php') });
  const json = JSON.parse((await readAll(next.body)).toString());
  t.is(next.status, 200);
  t.is(typeof json.pid, 'number');
});

test('a slow reader holds PHP back (backpressure), and then gets every byte', async (t) => {
  const { pool } = await php(t);
  const dir = mkdtempSync(join(tmpdir(), 'koa-lighty-progress-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const progress = join(dir, 'sent');
  const size = 64 * 1024;
  const chunks = 512; // 32 MiB
  const query = `chunks=${chunks}&size=${size}&progress=${encodeURIComponent(progress)}`;
  const res = await pool.request({ params: phpParams('fcgi-stream.php', { QUERY_STRING: query }) });
  await sleep(700); // nobody reads
  const sentWhilePaused = Number(readFileSync(progress, 'utf8'));
  // PHP got as far as the socket buffers let it, nowhere near the end.
  t.true(sentWhilePaused < chunks / 2, `PHP sent ${sentWhilePaused} of ${chunks} chunks while nobody read`);
  const body = await readAll(res.body);
  t.is(body.length, size * chunks);
  t.is(Number(readFileSync(progress, 'utf8')), chunks);
  t.is((await res.ended).protocolStatus, 0);
});

test('killing php-cgi during a request fails that request clearly', async (t) => {
  const { server, pool } = await php(t, { children: 1 });
  const res = await pool.request({
    params: phpParams('fcgi-sleep.php', { QUERY_STRING: 'ms=5000&early=1' }),
  });
  process.kill(-server.pid, 'SIGKILL');
  const error = await t.throwsAsync(readAll(res.body));
  t.is(error.name, 'ClosedMidResponse');
  await eventually(() => pool.connections === 0);
  t.is(pool.connections, 0);
});
