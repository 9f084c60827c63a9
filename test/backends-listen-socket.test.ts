/**
 * The socket a bin-path program gets as fd 0: it stays reachable at its address after we
 * closed our copy (libuv unlinks a unix socket's path on close), and only the child holds it,
 * so our process can never accept a connection meant for the program.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import {
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { listeningFd, spawnOnListenSocket } from '../src/backends/listen-socket.js';
import { freePort, listensOn, socketHolders, socketInodes, unixListenerInodes } from './helpers/ports.js';

/** A program that accepts on its fd 0 and answers each connection with its pid. */
const ACCEPTS_ON_FD_0 =
  "require('node:net').createServer((s) => s.end(String(process.pid))).listen({ fd: 0 })";

function spawnAcceptor(t: ExecutionContext, fd: number): ChildProcess {
  const child = spawn(process.execPath, ['-e', ACCEPTS_ON_FD_0], { stdio: [fd, 'ignore', 'inherit'] });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return child;
}

function answer(options: net.NetConnectOpts): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    net
      .connect(options)
      .on('data', (chunk) => {
        text += chunk;
      })
      .on('end', () => resolve(text))
      .on('error', reject);
  });
}

function tempDir(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'koa-lighty-listen-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('unix socket: the child answers at the path, which keeps its name; we hold nothing', async (t) => {
  const dir = tempDir(t);
  const socket = join(dir, 'app.sock-0');
  const child = await spawnOnListenSocket({ socket }, (fd) => spawnAcceptor(t, fd));
  t.true(lstatSync(socket).isSocket());
  t.deepEqual(readdirSync(dir), ['app.sock-0'], 'no second name left behind');
  for (let i = 0; i < 3; i++) t.is(await answer({ path: socket }), String(child.pid));
  // The listening socket is still bound to this very path (ss -xl shows it), held by the child only.
  const listening = unixListenerInodes(socket);
  t.is(listening.size, 1);
  t.deepEqual(socketHolders(listening), [child.pid]);
});

test('TCP: the child listens on the port, our process does not', async (t) => {
  const port = await freePort();
  const child = await spawnOnListenSocket({ host: '127.0.0.1', port }, (fd) => spawnAcceptor(t, fd));
  for (let i = 0; i < 3; i++) t.is(await answer({ host: '127.0.0.1', port }), String(child.pid));
  t.true(listensOn(child.pid!, port));
  t.false(listensOn(process.pid, port));
});

test('a stale socket file at the path is replaced', async (t) => {
  const dir = tempDir(t);
  const socket = join(dir, 'app.sock');
  // A socket file nobody listens on any more: what a program that died leaves behind.
  const first = await spawnOnListenSocket({ socket }, (fd) => spawnAcceptor(t, fd));
  first.kill('SIGKILL');
  await new Promise((resolve) => first.once('exit', resolve));
  t.true(lstatSync(socket).isSocket());
  const second = await spawnOnListenSocket({ socket }, (fd) => spawnAcceptor(t, fd));
  t.is(await answer({ path: socket }), String(second.pid));
});

test('a path that is not a socket is left alone and nothing is spawned', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'notes.txt');
  writeFileSync(path, 'keep me');
  let spawned = false;
  const error = await t.throwsAsync(
    spawnOnListenSocket({ socket: path }, () => {
      spawned = true;
      throw new Error('not reached');
    }),
  );
  t.regex(error.message, /notes\.txt exists and is not a socket/);
  t.false(spawned);
  t.is(readFileSync(path, 'utf8'), 'keep me');
});

test('an address in use rejects and spawns nothing', async (t) => {
  const taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.teardown(() => taken.close());
  const { port } = taken.address() as net.AddressInfo;
  let spawned = false;
  const error = await t.throwsAsync(
    spawnOnListenSocket({ host: '127.0.0.1', port }, () => {
      spawned = true;
      throw new Error('not reached');
    }),
  );
  t.regex(error.message, /EADDRINUSE/);
  t.false(spawned);
});

test('listeningFd: the descriptor of a listening server, an error before it listens', async (t) => {
  const server = net.createServer();
  t.throws(() => listeningFd(server), { message: /no file descriptor/ });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  const fd = listeningFd(server);
  const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))?.[1];
  t.truthy(inode);
  t.true(socketInodes(process.pid).has(inode!));
});
