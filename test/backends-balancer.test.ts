import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import { type Backend, createBackend } from '../src/backends/backend.js';
import { Balancer } from '../src/backends/balancer.js';
import { ConnectFailed, NoBackendAvailable } from '../src/fastcgi/errors.js';
import { DEFAULT_MIME_ASSIGN, MimeTypes } from '../src/http/mime.js';
import { memoryLogger } from '../src/log.js';
import { buildHosts } from '../src/middleware/fastcgi-hosts.js';
import { FakePeer, startFakeFastCgi } from './helpers/fake-fastcgi.js';
import { phpParams, startPhpCgi } from './helpers/php-cgi.js';
import { deadPort } from './helpers/ports.js';
import { eventually } from './helpers/wait.js';

const params: [string, string][] = [['SCRIPT_FILENAME', '/x.php']];

async function readAll(body: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

/** A fake host that names itself in its answer; `hold` keeps requests with HOLD=1 open until released. */
async function namedHost(t: import('ava').ExecutionContext, name: string) {
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const server = await startFakeFastCgi(async (peer) => {
    for (;;) {
      const req = await peer.request();
      if (!req) return;
      if (req.params.get('HOLD') === '1') await released;
      peer.write(FakePeer.answer(`X-Host: ${name}\r\n\r\n${req.params.get('ECHO') ?? name}`));
    }
  });
  const backend = createBackend({ label: name, ...server.address });
  t.teardown(async () => {
    release();
    await backend.stop();
    await server.close();
  });
  return { backend, release };
}

async function deadHost(t: import('ava').ExecutionContext, name: string): Promise<Backend> {
  const backend = createBackend({ label: name, host: '127.0.0.1', port: await deadPort(t) });
  t.teardown(() => backend.stop());
  return backend;
}

async function hostOf(balancer: Balancer, extra: [string, string][] = []): Promise<string> {
  const { backend, response } = await balancer.request({ params: [...params, ...extra] });
  const body = await readAll(response.body);
  if (body !== backend.label) throw new Error(`answer ${body} came from ${backend.label}?`);
  return body;
}

test('least-connection: with equal load the first listed host wins', async (t) => {
  const a = await namedHost(t, 'a');
  const b = await namedHost(t, 'b');
  const balancer = new Balancer([a.backend, b.backend]);
  const seen = [];
  for (let i = 0; i < 5; i++) seen.push(await hostOf(balancer));
  t.deepEqual(seen, ['a', 'a', 'a', 'a', 'a']);
});

test('least-connection: a busy host is passed over for an idle one ("fair" is the same)', async (t) => {
  const a = await namedHost(t, 'a');
  const b = await namedHost(t, 'b');
  const balancer = new Balancer([a.backend, b.backend], { balance: 'fair' });
  const held = balancer.request({ params: [...params, ['HOLD', '1']] });
  t.true(await eventually(() => a.backend.load === 1), 'the held request is on a');
  t.is(await hostOf(balancer), 'b');
  a.release();
  const { backend, response } = await held;
  t.is(backend.label, 'a');
  await readAll(response.body);
});

test('round-robin takes the hosts in turn', async (t) => {
  const a = await namedHost(t, 'a');
  const b = await namedHost(t, 'b');
  const c = await namedHost(t, 'c');
  const balancer = new Balancer([a.backend, b.backend, c.backend], { balance: 'round-robin' });
  const seen = [];
  for (let i = 0; i < 6; i++) seen.push(await hostOf(balancer));
  t.deepEqual(seen, ['a', 'b', 'c', 'a', 'b', 'c']);
});

test('a host that refuses connections is disabled for disable-time; requests go to the next', async (t) => {
  const dead = await deadHost(t, 'dead');
  const b = await namedHost(t, 'b');
  const logger = memoryLogger();
  const balancer = new Balancer([dead, b.backend], {
    balance: 'round-robin',
    disableTimes: new Map([[dead, 1]]),
    logger,
  });
  const seen = [];
  for (let i = 0; i < 4; i++) seen.push(await hostOf(balancer));
  t.deepEqual(seen, ['b', 'b', 'b', 'b']);
  const disabled = () => logger.lines.filter((l) => l.includes('backend dead disabled')).length;
  t.is(disabled(), 1, 'tried once, then left alone while disabled');
  await sleep(1100);
  t.is(await hostOf(balancer), 'b');
  t.is(disabled(), 2, 'tried again after disable-time');
});

test('disable-time is per host: each dead host is left out for its own time', async (t) => {
  const short = await deadHost(t, 'short');
  const long = await deadHost(t, 'long');
  const b = await namedHost(t, 'b');
  const logger = memoryLogger();
  const disableTimes = new Map([
    [short, 1],
    [long, 10],
  ]);
  const balancer = new Balancer([short, long, b.backend], { disableTimes, logger });
  const disabled = (name: string) => logger.lines.filter((l) => l.includes(`backend ${name} disabled`));
  t.is(await hostOf(balancer), 'b');
  t.regex(disabled('short').join(), /disabled for 1 s/);
  t.regex(disabled('long').join(), /disabled for 10 s/);
  await sleep(1100);
  t.is(await hostOf(balancer), 'b');
  t.is(disabled('short').length, 2, 'short is tried again after its 1 s');
  t.is(disabled('long').length, 1, 'long is still left out');
});

test("fastcgi(): each host block's disableTime reaches the balancer; without one it is 1 s", async (t) => {
  const hosts = [
    { label: 'five', host: '127.0.0.1', port: await deadPort(t), disableTime: 5 },
    { label: 'seven', host: '127.0.0.1', port: await deadPort(t), disableTime: 7 },
    { label: 'default', host: '127.0.0.1', port: await deadPort(t) },
  ];
  const log = memoryLogger();
  const built = buildHosts(
    { documentRoot: '/tmp', backends: [{ key: '.php', hosts }] },
    new MimeTypes(DEFAULT_MIME_ASSIGN),
    log,
  );
  t.teardown(() => Promise.all(built.backends.map((backend) => backend.stop())));
  const { balancer } = built.routes[0]!.target;
  await t.throwsAsync(balancer.request({ params }), { instanceOf: ConnectFailed });
  const lines = log.lines.filter((l) => l.includes(' disabled for '));
  t.is(lines.length, 3);
  t.regex(lines.find((l) => l.includes('backend five '))!, /disabled for 5 s/);
  t.regex(lines.find((l) => l.includes('backend seven '))!, /disabled for 7 s/);
  t.regex(lines.find((l) => l.includes('backend default '))!, /disabled for 1 s/);
});

test('no usable host: the connect error (503), then NoBackendAvailable (503) while disabled', async (t) => {
  const one = await deadHost(t, 'one');
  const two = await deadHost(t, 'two');
  const balancer = new Balancer([one, two], {
    disableTimes: new Map([
      [one, 10],
      [two, 10],
    ]),
  });
  const first = await t.throwsAsync(balancer.request({ params }), { instanceOf: ConnectFailed });
  t.is(first.status, 503);
  t.false(balancer.available);
  const second = await t.throwsAsync(balancer.request({ params }), { instanceOf: NoBackendAvailable });
  t.is(second.status, 503);
});

test('params may depend on the chosen host', async (t) => {
  const a = await namedHost(t, 'a');
  const balancer = new Balancer([a.backend]);
  const { backend, response } = await balancer.request((chosen) => ({
    params: [['ECHO', `for ${chosen.label}`]],
  }));
  t.is(backend.label, 'a');
  t.is(await readAll(response.body), 'for a');
});

test('an unknown balance mode is refused', (t) => {
  t.throws(() => new Balancer([], { balance: 'hash' as never }), { message: /unsupported/ });
});

test('with real php-cgi hosts, a dead first host costs nothing but a log line', async (t) => {
  const php = await startPhpCgi();
  t.teardown(() => php.stop());
  const live = createBackend({ label: 'php', ...php.address });
  t.teardown(() => live.stop());
  const dead = await deadHost(t, 'dead');
  const balancer = new Balancer([dead, live]);
  for (let i = 0; i < 3; i++) {
    const { backend, response } = await balancer.request({
      params: phpParams('fcgi-sleep.php', { QUERY_STRING: 'ms=1' }),
    });
    t.is(backend.label, 'php');
    t.regex(await readAll(response.body), /^slept/);
  }
});
