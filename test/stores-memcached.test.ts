import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import test from 'ava';
import memjs from 'memjs';
import { libmemcachedServerIndex, oneAtATime } from '../src/stores/libmemcached-hash.js';
import { memcachedStore } from '../src/stores/memcached.js';
import { parseMemcachedServer } from '../src/stores/memcached-servers.js';
import { againstDeadline, DEADLINE_SLACK_MS } from './helpers/deadline.js';
import { remainingTtl, startMemcached, startSilentServer } from './helpers/memcached.js';

/** The deadline where the test is not about deadlines: a loaded machine must not fail it. */
const ROOMY = 2_000;

/** A plain memjs client, standing in for lighttpd reading and writing the same server. */
function rawClient(server: string) {
  const client = memjs.Client.create(server, { retries: 0, logger: { log() {} } });
  return client;
}

test('memcached store: lighttpd’s format — key namespace+identity with spaces → "-", 8-byte LE value, flags 0', async (t) => {
  const memcached = await startMemcached();
  t.teardown(() => memcached.stop());
  const store = memcachedStore({ servers: [memcached.server], namespace: 'koa lighty ', deadlineMs: ROOMY });
  t.teardown(() => store.close());
  const raw = rawClient(memcached.server);
  t.teardown(() => raw.close());

  t.is(store.freshness, 'by-item-expiry');
  await store.set('10.0.0.1', 1_700_000_123, 60);
  const { value, flags } = await raw.get('koa-lighty-10.0.0.1');
  t.truthy(value);
  t.is(value!.length, 8);
  t.is(value!.readBigInt64LE(), 1_700_000_123n);
  t.deepEqual(flags, Buffer.alloc(4), 'flags 0');
  t.is((await raw.get('koa lighty 10.0.0.1')).value, null, 'no key with spaces was written');
});

test('memcached store: reads an entry written the lighttpd way, and deletes it', async (t) => {
  const memcached = await startMemcached();
  t.teardown(() => memcached.stop());
  const store = memcachedStore({ servers: [memcached.server], namespace: 't4bdl_', deadlineMs: ROOMY });
  t.teardown(() => store.close());
  const raw = rawClient(memcached.server);
  t.teardown(() => raw.close());

  const value = Buffer.alloc(8);
  value.writeBigInt64LE(1_700_000_456n);
  await raw.set('t4bdl_192.0.2.7', value, { expires: 60 });
  t.is(await store.get('192.0.2.7'), 1_700_000_456);
  t.is(await store.get('192.0.2.8'), undefined);
  await store.delete('192.0.2.7');
  t.is((await raw.get('t4bdl_192.0.2.7')).value, null);
});

test('memcached store: the expiry is the timeout; 0 never expires', async (t) => {
  const memcached = await startMemcached();
  t.teardown(() => memcached.stop());
  const store = memcachedStore({ servers: [memcached.server], deadlineMs: ROOMY });
  t.teardown(() => store.close());
  await store.set('short', 1_700_000_000, 30);
  await store.set('forever', 1_700_000_000, 0);
  t.is(await store.get('short'), 1_700_000_000);
  // What memcached was told, read back from it (its clock ticks in whole seconds).
  const ttl = await remainingTtl(memcached.server, 'short');
  t.true(ttl !== undefined && ttl > 25 && ttl <= 30, `${ttl} s left of 30`);
  t.is(await remainingTtl(memcached.server, 'forever'), -1);
  t.is(await store.get('forever'), 1_700_000_000);
});

test('memcached store: a silent server fails each call within the deadline', async (t) => {
  const silent = await startSilentServer();
  t.teardown(() => silent.close());
  const deadlineMs = 200;
  const store = memcachedStore({ servers: [silent.server], deadlineMs });
  t.teardown(() => store.close());
  const calls: Array<() => Promise<unknown>> = [
    () => store.get('a'),
    () => store.set('a', 1, 10),
    () => store.delete('a'),
  ];
  for (const call of calls) {
    const { outcome, lateMs } = await againstDeadline(call, deadlineMs);
    t.is(outcome.status, 'rejected');
    t.true(lateMs < DEADLINE_SLACK_MS, `failed ${Math.round(lateMs)} ms after the deadline`);
  }
  t.true(silent.accepted >= 1);
});

test('memcached store: a stopped server fails fast; after a restart the same store works again', async (t) => {
  const memcached = await startMemcached();
  t.teardown(() => memcached.stop());
  // Roomy, so that the calls meant to succeed do on a loaded machine; "fast" is proven by the
  // refusal settling before it, not by its size.
  const deadlineMs = 5_000;
  const store = memcachedStore({ servers: [memcached.server], deadlineMs });
  t.teardown(() => store.close());
  await store.set('a', 1_700_000_000, 60);
  t.is(await store.get('a'), 1_700_000_000);

  await memcached.stop();
  for (let i = 0; i < 3; i++) {
    const { outcome, lateMs } = await againstDeadline(() => store.get('a'), deadlineMs);
    t.is(outcome.status, 'rejected');
    t.true(
      lateMs < 0,
      `failed ${Math.round(lateMs)} ms after the deadline: the refusal was not taken at once`,
    );
  }

  await memcached.restart();
  t.is(await store.get('a'), undefined, 'a restarted memcached is empty');
  await store.set('a', 1_700_000_001, 60);
  t.is(await store.get('a'), 1_700_000_001);
});

/**
 * A TCP proxy to memcached that closes the first connection cleanly as soon as a request
 * arrives, without an answer: what a memcached shutting down looks like to a request in flight.
 */
async function proxyDroppingFirstConnection(targetPort: number) {
  let connections = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    sockets.add(client);
    client.on('error', () => {});
    if (connections++ === 0) {
      client.once('data', () => client.end());
      return;
    }
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(upstream);
    upstream.on('error', () => client.destroy());
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    server: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

test('memcached store: a connection closed under a request fails it at once; later calls work', async (t) => {
  const memcached = await startMemcached();
  t.teardown(() => memcached.stop());
  const proxy = await proxyDroppingFirstConnection(memcached.port);
  t.teardown(() => proxy.close());
  const deadlineMs = 2_000;
  const store = memcachedStore({ servers: [proxy.server], deadlineMs });
  t.teardown(() => store.close());

  const { outcome, lateMs } = await againstDeadline(() => store.get('a'), deadlineMs);
  t.is(outcome.status, 'rejected');
  t.true(lateMs < 0, `failed ${Math.round(lateMs)} ms after the deadline, not at the close`);
  // Keep calling past memjs's request timeout (the deadline): nothing left over from the
  // dropped connection may fail a call on the new one.
  await store.set('a', 1_700_000_000, 60);
  let failures = 0;
  const until = performance.now() + 2_500;
  while (performance.now() < until) {
    if ((await store.get('a').catch(() => 'failed')) !== 1_700_000_000) failures++;
  }
  t.is(failures, 0);
});

test('memcached store: a cluster spreads keys the libmemcached way, each on one server', async (t) => {
  const first = await startMemcached();
  t.teardown(() => first.stop());
  const second = await startMemcached();
  t.teardown(() => second.stop());
  const servers = [first.server, second.server];
  const store = memcachedStore({ servers, namespace: 'ns_', deadlineMs: ROOMY });
  t.teardown(() => store.close());
  const raws = servers.map(rawClient);
  t.teardown(() => {
    for (const raw of raws) raw.close();
  });

  const used = new Set<number>();
  for (let i = 1; i <= 20; i++) {
    const identity = `10.0.0.${i}`;
    await store.set(identity, 1_700_000_000 + i, 60);
    const home = libmemcachedServerIndex(`ns_${identity}`, 2);
    used.add(home);
    t.truthy((await raws[home]!.get(`ns_${identity}`)).value, `${identity} is on server ${home}`);
    t.is((await raws[1 - home]!.get(`ns_${identity}`)).value, null, `${identity} is only on server ${home}`);
    t.is(await store.get(identity), 1_700_000_000 + i);
  }
  t.is(used.size, 2, 'both servers hold keys');
});

test('libmemcached hash: one-at-a-time matches the published vectors', (t) => {
  t.is(oneAtATime(Buffer.from('a')), 0xca2e9442);
  t.is(oneAtATime(Buffer.from('The quick brown fox jumps over the lazy dog')), 0x519e91f5);
  t.is(libmemcachedServerIndex('anything', 1), 0);
  t.is(libmemcachedServerIndex('a', 3), 0xca2e9442 % 3);
});

test('memcached servers: host:port, host, [v6]:port and bad entries', (t) => {
  t.deepEqual(parseMemcachedServer('127.0.0.1:11311'), { host: '127.0.0.1', port: 11311 });
  t.deepEqual(parseMemcachedServer('cache.example'), { host: 'cache.example', port: 11211 });
  t.deepEqual(parseMemcachedServer('[::1]:11300'), { host: '::1', port: 11300 });
  t.deepEqual(parseMemcachedServer('::1'), { host: '::1', port: 11211 });
  t.throws(() => parseMemcachedServer('host:0'));
  t.throws(() => parseMemcachedServer('host:99999'));
  t.throws(() => parseMemcachedServer('a b:1'));
  t.throws(() => memcachedStore({ servers: [] }));
});
