import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { listensOn, onFreePort } from './ports.js';

const MEMCACHED = '/usr/bin/memcached';

export interface RunningMemcached {
  port: number;
  /** Pid of the memcached process now running (changes with restart()). */
  readonly pid: number;
  /** `host:port` for memcachedStore({ servers }). */
  readonly server: string;
  /** Kills it (by pid) and waits until it has exited; the port then refuses connections. */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty, and waits until it accepts connections. */
  restart(): Promise<void>;
  /** After stop(): starts it on the same port, empty, and waits until it accepts connections. */
  start(): Promise<void>;
}

/**
 * A real memcached on 127.0.0.1 on a free port, for one test. Register `stop` with
 * t.teardown. A missing binary fails the test: the trigger tests must never pass by skipping.
 */
export async function startMemcached(): Promise<RunningMemcached> {
  if (!existsSync(MEMCACHED)) throw new Error('memcached is not installed: run npm test (it installs it)');
  const started = await onFreePort(async (port) => ({ port, child: await launch(port) }));
  const { port } = started;
  let { child } = started;
  return {
    port,
    server: `127.0.0.1:${port}`,
    get pid() {
      return child.pid!;
    },
    stop: () => kill(child),
    async restart() {
      await kill(child);
      child = await launch(port);
    },
    async start() {
      if (child.exitCode === null && child.signalCode === null) throw new Error('memcached is still running');
      child = await launch(port);
    },
  };
}

async function launch(port: number): Promise<ChildProcess> {
  // -U 0: no UDP. -u root: memcached refuses to run as root without it (CI runs as root).
  const child = spawn(MEMCACHED, ['-l', '127.0.0.1', '-p', String(port), '-U', '0', '-u', 'root'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk) => {
    stderr += chunk;
  });
  const stderrEnded = new Promise((resolve) => child.stderr!.once('close', resolve));
  const started = Date.now();
  while (!listensOn(child.pid!, port)) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stderrEnded;
      throw new Error(`memcached exited at start (${child.exitCode ?? child.signalCode}): ${stderr}`);
    }
    if (Date.now() - started > 10_000) {
      await kill(child);
      throw new Error(`memcached did not listen on port ${port} within 10 s: ${stderr}`);
    }
    await sleep(20);
  }
  return child;
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  process.kill(child.pid!, 'SIGKILL');
  await exited;
}

export interface SilentServer {
  port: number;
  readonly server: string;
  /** Connections accepted so far (each one never got a byte back). */
  readonly accepted: number;
  close(): Promise<void>;
}

/**
 * A "memcached" that accepts connections and never answers: the hung server that a deadline
 * exists for. Requests are read and ignored.
 */
export async function startSilentServer(): Promise<SilentServer> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    socket.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    server: `127.0.0.1:${port}`,
    get accepted() {
      return accepted;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * The seconds an item has left, as memcached itself reports them (meta get `mg KEY t`): -1
 * for an item that never expires, undefined for none. Read from the server, not waited for:
 * memcached's clock ticks in whole seconds, so waiting out a short expiry is a race.
 */
export function remainingTtl(server: string, key: string): Promise<number | undefined> {
  const [host, port] = server.split(':');
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(Number(port), host!);
    let reply = '';
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('latin1');
      if (!reply.includes('\r\n')) return;
      socket.end();
      const line = reply.slice(0, reply.indexOf('\r\n'));
      if (line === 'EN') resolve(undefined);
      else {
        const ttl = /\bt(-?\d+)\b/.exec(line);
        if (ttl) resolve(Number(ttl[1]));
        else reject(new Error(`memcached answered ${JSON.stringify(line)} to mg ${key} t`));
      }
    });
    socket.on('error', reject);
    socket.write(`mg ${key} t\r\n`);
  });
}
