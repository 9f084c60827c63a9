import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { BIN, runCommand } from './helpers/koa-lighty.js';
import { LIGHTTPD } from './helpers/lighttpd.js';
import { startMemcached } from './helpers/memcached.js';
import {
  ADDRESS_IN_USE,
  acceptsConnections,
  deadPort,
  ephemeralPorts,
  freePort,
  listensOn,
  onFreePort,
} from './helpers/ports.js';

// These helpers exist because CI failed, twice, on a port another test process took in between.

/** A listener of this process on `port` (0: any), closed at the end of the test. */
async function listen(t: import('ava').ExecutionContext, port = 0): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as net.AddressInfo).port;
}

test('freePort() picks below the kernel ephemeral range, where listen(0) never lands', async (t) => {
  const { low } = ephemeralPorts();
  for (let i = 0; i < 200; i++) {
    const port = await freePort();
    t.true(port >= 10_000 && port < low, `port ${port}`);
  }
});

test('a dead port refuses connections, and listen(0) elsewhere does not get it while it is held', async (t) => {
  const port = await deadPort(t);
  t.false(await acceptsConnections(port));
  for (let i = 0; i < 2000; i++) {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const taken = (server.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (taken === port) t.fail(`listen(0) was given the dead port ${port}`);
  }
  t.false(await acceptsConnections(port));
});

test('onFreePort() tries another port when the one it picked is taken, and only then', async (t) => {
  const tried: number[] = [];
  const port = await onFreePort(async (candidate) => {
    tried.push(candidate);
    // Another process got there first (here: this one).
    if (tried.length === 1) await listen(t, candidate);
    return listen(t, candidate);
  });
  t.is(tried.length, 2);
  t.not(tried[1], tried[0]);
  t.is(port, tried[1]);
  t.true(listensOn(process.pid, port));

  let calls = 0;
  const error = await t.throwsAsync(
    onFreePort(async () => {
      calls++;
      throw new Error('php-cgi: no such file');
    }),
  );
  t.is(error?.message, 'php-cgi: no such file');
  t.is(calls, 1, 'any other failure is the answer');
});

test('listensOn() tells whose listener a port is, not only that something answers there', async (t) => {
  const memcached = await startMemcached();
  t.teardown(() => memcached.stop());
  const ours = await listen(t);
  t.true(listensOn(memcached.pid, memcached.port));
  t.false(listensOn(process.pid, memcached.port), 'it answers, but it is not ours');
  t.true(listensOn(process.pid, ours));
  t.false(listensOn(memcached.pid, ours));
  t.false(listensOn(process.pid, await deadPort(t)), 'a port nobody listens on');
});

test('lighttpd, memcached and koa-lighty say "address already in use" in words onFreePort() knows', async (t) => {
  const taken = await listen(t);
  const dir = mkdtempSync(join(tmpdir(), 'koa-lighty-ports-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const conf = join(dir, 'lighttpd.conf');
  writeFileSync(conf, `server.document-root = "${dir}"\nserver.port = ${taken}\nserver.bind = "127.0.0.1"\n`);
  const servers: Array<[string, string, string[]]> = [
    ['lighttpd', LIGHTTPD, ['-D', '-f', conf]],
    ['memcached', '/usr/bin/memcached', ['-l', '127.0.0.1', '-p', String(taken), '-U', '0', '-u', 'root']],
    ['koa-lighty', process.execPath, [BIN, '-f', conf]],
  ];
  for (const [name, command, args] of servers) {
    const { code, stdout, stderr } = await runCommand(command, args, { timeoutMs: 10_000, label: name });
    t.not(code, 0, `${name} exited with ${code}: ${stdout}${stderr}`);
    t.regex(stdout + stderr, ADDRESS_IN_USE, name);
  }
});
