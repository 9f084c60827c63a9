/**
 * The pool against a scripted FastCGI server: limits, queue, timeouts, retry, abort, reuse,
 * backpressure.
 */
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import { ConnectFailed, QueueTimeout, ReadTimeout, RequestAborted } from '../src/fastcgi/errors.js';
import { takeEndedBody } from '../src/fastcgi/exchange.js';
import { BackendPool } from '../src/fastcgi/pool.js';
import { encodeRecord, RecordType } from '../src/fastcgi/records.js';
import { againstDeadline, DEADLINE_SLACK_MS } from './helpers/deadline.js';
import { FakePeer } from './helpers/fake-fastcgi.js';
import { params, poolOnFake, readAll } from './helpers/fake-pool.js';
import { deadPort } from './helpers/ports.js';
import { eventually } from './helpers/wait.js';

const answer = FakePeer.answer;

test('a kept connection closed before any byte is retried once on a fresh connection', async (t) => {
  let connection = 0;
  const { pool, server } = await poolOnFake(t, async (peer) => {
    const mine = ++connection;
    for (let served = 0; ; served++) {
      const req = await peer.request();
      if (!req) return;
      // The first connection serves one request, then drops the next unanswered
      // (php-cgi after PHP_FCGI_MAX_REQUESTS, seen from the client's side).
      if (mine === 1 && served === 1) {
        peer.close();
        return;
      }
      peer.write(answer(`X-Conn: ${mine}\r\n\r\n${req.stdin}`));
    }
  });
  const first = await pool.request({ params });
  t.deepEqual(first.headers, [['X-Conn', '1']]);
  await readAll(first.body);
  const second = await pool.request({ params, body: Readable.from([Buffer.from('replayed body')]) });
  t.deepEqual(second.headers, [['X-Conn', '2']]);
  t.is((await readAll(second.body)).toString(), 'replayed body');
  t.is(server.accepted, 3);
});

test('a backend that stays silent hits the read timeout (504)', async (t) => {
  const { pool } = await poolOnFake(
    t,
    async (peer) => {
      await peer.request();
      await peer.closed;
    },
    { readTimeout: 200 },
  );
  const { outcome, lateMs } = await againstDeadline(() => pool.request({ params }), 200);
  t.is(outcome.status, 'rejected');
  const error = (outcome as PromiseRejectedResult).reason;
  t.true(error instanceof ReadTimeout, String(error));
  t.is(error.status, 504);
  t.true(lateMs < DEADLINE_SLACK_MS, `settled ${lateMs} ms after its 200 ms read timeout`);
});

test('a slow but steady backend does not hit the read timeout', async (t) => {
  const { pool } = await poolOnFake(
    t,
    async (peer) => {
      await peer.request();
      peer.write(encodeRecord(RecordType.STDOUT, 1, Buffer.from('X-A: 1\r\n\r\n')));
      for (let i = 0; i < 6; i++) {
        await sleep(250);
        peer.write(encodeRecord(RecordType.STDOUT, 1, Buffer.from(`${i}`)));
      }
      peer.write(answer(''));
    },
    { readTimeout: 1000 },
  );
  const res = await pool.request({ params });
  t.is((await readAll(res.body)).toString(), '012345');
});

test('the pool never holds more connections than FCGI_MAX_CONNS', async (t) => {
  const { pool, server } = await poolOnFake(
    t,
    async (peer) => {
      for (;;) {
        const req = await peer.request();
        if (!req) return;
        await sleep(30);
        peer.write(answer(`X-N: ${req.params.get('N')}\r\n\r\n`));
      }
    },
    {},
    { maxConns: 3 },
  );
  const results = await Promise.all(
    Array.from({ length: 20 }, async (_, n) => {
      const res = await pool.request({ params: [['N', String(n)]] });
      await readAll(res.body);
      return res.headers[0]![1];
    }),
  );
  t.deepEqual(
    results,
    Array.from({ length: 20 }, (_, n) => String(n)),
  );
  t.is(pool.maxConns, 3);
  t.is(server.maxOpen, 3);
  t.true(pool.connections <= 3);
});

test('without an FCGI_GET_VALUES answer the configured maxConns applies', async (t) => {
  const { pool, server } = await poolOnFake(
    t,
    async (peer) => {
      for (;;) {
        const req = await peer.request();
        if (!req) return;
        await sleep(20);
        peer.write(answer('X-A: 1\r\n\r\n'));
      }
    },
    { maxConns: 2, getValuesTimeout: 150 },
    { maxConns: undefined },
  );
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      const res = await pool.request({ params });
      await readAll(res.body);
    }),
  );
  t.is(pool.maxConns, 2);
  t.is(server.maxOpen, 2);
});

test('a request that cannot get a connection in time fails with QueueTimeout (503)', async (t) => {
  const { pool } = await poolOnFake(
    t,
    async (peer) => {
      await peer.request();
      await peer.closed; // holds the only worker
    },
    { queueTimeout: 150 },
    { maxConns: 1 },
  );
  const stuck = pool.request({ params });
  const error = await t.throwsAsync(pool.request({ params }), { instanceOf: QueueTimeout });
  t.is(error.status, 503);
  t.is(pool.load, 1);
  await pool.destroy();
  await t.throwsAsync(stuck);
});

test('a refused connect is ConnectFailed (503)', async (t) => {
  const pool = new BackendPool({ address: { host: '127.0.0.1', port: await deadPort(t) } });
  t.teardown(() => pool.destroy());
  const error = await t.throwsAsync(pool.request({ params }), { instanceOf: ConnectFailed });
  t.is(error.status, 503);
  t.is(pool.connections, 0);
  t.is(pool.load, 0);
});

test('a slow reader pauses the backend: the backend cannot write everything', async (t) => {
  const total = 48 * 1024 * 1024;
  let backlog = 0;
  const { pool } = await poolOnFake(t, async (peer) => {
    await peer.request();
    peer.write(encodeRecord(RecordType.STDOUT, 1, Buffer.from('X-A: 1\r\n\r\n')));
    const block = Buffer.alloc(65_535, 'z');
    for (let sent = 0; sent < total; sent += block.length) {
      peer.write(encodeRecord(RecordType.STDOUT, 1, block.subarray(0, Math.min(block.length, total - sent))));
    }
    peer.write(answer(''));
    await sleep(400);
    backlog = peer.socket.writableLength;
  });
  const res = await pool.request({ params });
  await sleep(600); // nobody reads the body
  t.true(backlog > 16 * 1024 * 1024, `backend still holds ${backlog} bytes`);
  t.is((await readAll(res.body)).length, total);
});

test('a complete answer is taken whole, without a stream; past the limit it streams', async (t) => {
  const big = 'b'.repeat(100 * 1024);
  const { pool } = await poolOnFake(t, async (peer) => {
    for (const text of ['small', big]) {
      if (!(await peer.request())) return;
      peer.write(answer(`X-A: 1\r\n\r\n${text}`));
    }
  });
  const small = await pool.request({ params });
  await small.ended;
  t.is(takeEndedBody(small, 64 * 1024)?.toString(), 'small');
  t.is((await readAll(small.body)).length, 0, 'once taken, the body stream is empty');
  const large = await pool.request({ params });
  await large.ended;
  t.is(takeEndedBody(large, 64 * 1024), undefined);
  t.is((await readAll(large.body)).length, big.length);
  t.is(pool.connections, 1, 'both on one kept connection');
});

test('aborting mid-response closes the connection and errors the body', async (t) => {
  let backendSawClose!: () => void;
  const closedAt = new Promise<void>((resolve) => {
    backendSawClose = resolve;
  });
  const { pool } = await poolOnFake(t, async (peer) => {
    await peer.request();
    peer.write(encodeRecord(RecordType.STDOUT, 1, Buffer.from('X-A: 1\r\n\r\nfirst')));
    await peer.closed;
    backendSawClose();
  });
  const controller = new AbortController();
  const res = await pool.request({ params, signal: controller.signal });
  controller.abort();
  await t.throwsAsync(readAll(res.body), { instanceOf: RequestAborted });
  // The pool has no read timeout here, so nothing but the abort can close the connection: the
  // backend seeing the close at all is the proof (without it this waits for ava's timeout).
  await closedAt;
  t.true(await eventually(() => pool.connections === 0 && pool.load === 0));
});

test('destroying the body before the end closes the connection too', async (t) => {
  const { pool, server } = await poolOnFake(t, async (peer) => {
    await peer.request();
    peer.write(encodeRecord(RecordType.STDOUT, 1, Buffer.from('X-A: 1\r\n\r\nfirst')));
    await peer.closed;
  });
  const res = await pool.request({ params });
  res.body.destroy();
  await t.throwsAsync(res.ended, { instanceOf: RequestAborted });
  t.is(pool.connections, 0);
  t.true(await eventually(() => server.open === 0));
});

test('kept connections are reused, and closed after the idle timeout', async (t) => {
  const { pool, server } = await poolOnFake(
    t,
    async (peer) => {
      for (;;) {
        const req = await peer.request();
        if (!req) return;
        t.true(req.keepConn);
        peer.write(answer('X-A: 1\r\n\r\nok'));
      }
    },
    { idleTimeout: 2000 },
  );
  for (let i = 0; i < 5; i++) {
    const res = await pool.request({ params });
    await readAll(res.body);
    await res.ended;
  }
  t.is(server.accepted, 2); // GET_VALUES + one kept connection
  t.is(pool.idleConnections, 1);
  const idleSince = Date.now();
  t.true(await eventually(() => server.open === 0));
  t.true(Date.now() - idleSince >= 1900, 'not closed before the idle timeout');
  t.is(pool.idleConnections, 0);
  t.is(pool.connections, 0);
});
