/**
 * server.systemd-socket-activation: koa-lighty answers on the listening socket it inherits as
 * fd 3 (LISTEN_FDS, LISTEN_PID), as a systemd socket unit hands it over, and only when the
 * config asks for it and the socket is meant for this process.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { httpGet } from './helpers/http.js';
import { startKoaLighty } from './helpers/koa-lighty.js';

const www = mkdtempSync(join(tmpdir(), 'koa-lighty-activation-'));
writeFileSync(join(www, 'index.html'), 'activated\n');
test.after.always(() => rmSync(www, { recursive: true, force: true }));

const conf = (activation: boolean) =>
  [
    `server.document-root = "${www}"`,
    'index-file.names = ( "index.html" )',
    'server.port = PORT',
    'server.bind = "127.0.0.1"',
    activation ? 'server.systemd-socket-activation = "enable"' : '',
    '',
  ].join('\n');

/** A listening socket made here, as systemd makes it; its descriptor is what the child inherits. */
async function listeningSocket(): Promise<{ server: Server; port: number; fd: number }> {
  const server = createServer();
  // Never accepted from here: once the child has it, this process lets go of its copy.
  server.on('connection', (socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  // net.Server has no public accessor for its descriptor; the handle's fd is what libuv holds.
  const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
  return { server, port, fd };
}

const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

for (const workers of [1, 2]) {
  test(`answers on the socket passed as fd 3 (--workers ${workers})`, async (t) => {
    const socket = await listeningSocket();
    const koa = await startKoaLighty({
      conf: conf(true),
      passFds: [socket.fd],
      args: workers > 1 ? ['--workers', String(workers)] : [],
      env: { LISTEN_FDS: '1', LISTEN_PID: `parent:${process.pid}` },
    });
    t.teardown(() => koa.stop());
    await close(socket.server);
    t.is(koa.port, socket.port, koa.output());
    for (let i = 0; i < 4; i++) {
      const r = await httpGet(socket.port, '/');
      t.is(r.status, 200);
      t.is(r.body.toString(), 'activated\n');
    }
  });
}

test('without server.systemd-socket-activation the passed socket is not used', async (t) => {
  const socket = await listeningSocket();
  t.teardown(() => close(socket.server));
  const koa = await startKoaLighty({
    conf: conf(false),
    passFds: [socket.fd],
    env: { LISTEN_FDS: '1', LISTEN_PID: `parent:${process.pid}` },
  });
  t.teardown(() => koa.stop());
  t.not(koa.port, socket.port);
  t.is((await httpGet(koa.port, '/')).status, 200);
});

test('sockets meant for another process are not taken (LISTEN_PID)', async (t) => {
  const socket = await listeningSocket();
  t.teardown(() => close(socket.server));
  const koa = await startKoaLighty({
    conf: conf(true),
    passFds: [socket.fd],
    env: { LISTEN_FDS: '1', LISTEN_PID: String(process.pid) },
  });
  t.teardown(() => koa.stop());
  t.not(koa.port, socket.port);
  t.is((await httpGet(koa.port, '/')).status, 200);
});
