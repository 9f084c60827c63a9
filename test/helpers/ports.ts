import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import net from 'node:net';

/**
 * A TCP port on 127.0.0.1, free a moment ago, for a server that binds it later (php-cgi,
 * lighttpd, memcached, koa-lighty: child processes given a port number).
 *
 * Picked below the kernel's ephemeral range. Ports in that range are what listen(0) and
 * outgoing connections get, many times a second across the parallel test processes; a port
 * the kernel picked and we released could be handed to another process before our server
 * binds it. Below the range only this helper picks, at random.
 */
export function freePort(): Promise<number> {
  return freePortRange(1);
}

let ephemeral: { low: number; high: number } | undefined;

/** The kernel's own range for ports it chooses (Linux's default when it cannot be read). Read once. */
export function ephemeralPorts(): { low: number; high: number } {
  ephemeral ??= readEphemeralPorts();
  return ephemeral;
}

function readEphemeralPorts(): { low: number; high: number } {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number);
    if (low && high && low > 12_000) return { low, high };
  } catch {}
  return { low: 32_768, high: 60_999 };
}

/**
 * A TCP port on 127.0.0.1 that refuses connections for as long as the test runs: a stand-in for
 * a backend that is down. A port that was merely free a moment ago is not enough: another test
 * process may start php-cgi or a fake backend there, and the "dead" host answers.
 *
 * The port stays taken because one accepted connection still holds it after its listener is
 * closed. Nothing listens, so connects are refused; while it is held, listen(0) in the other
 * test processes never gets it, and freePort() picks below the kernel's range anyway.
 */
export async function deadPort(t: { teardown(fn: () => void): void }): Promise<number> {
  const listener = net.createServer();
  listener.unref();
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(0, '127.0.0.1', resolve);
  });
  const { port } = listener.address() as net.AddressInfo;
  const accepted = new Promise<net.Socket>((resolve) => listener.once('connection', resolve));
  const client = net.connect(port, '127.0.0.1');
  client.unref();
  client.on('error', () => {});
  const holder = await accepted;
  holder.unref();
  holder.on('error', () => {});
  t.teardown(() => {
    holder.destroy();
    client.destroy();
  });
  // close() stops listening at once; its callback would wait for `holder` to end.
  listener.close();
  for (let tries = 0; await acceptsConnections(port); tries++) {
    if (tries > 100) throw new Error(`port ${port} still accepts after its listener closed`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return port;
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** How lighttpd, memcached, koa-lighty and Node itself say that a port is taken. */
export const ADDRESS_IN_USE = /address (is )?already in use/i;

/**
 * Runs `start` on a freePort(), and on another one when it fails because the address is in use:
 * another test process picked the same port at random and bound it first. `start` must throw
 * with the server's own words in the message (lighttpd and memcached print "Address already
 * in use", koa-lighty "the address is already in use").
 */
export async function onFreePort<T>(start: (port: number) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return await start(port);
    } catch (err) {
      if (attempt >= 5 || !ADDRESS_IN_USE.test((err as Error).message)) throw err;
    }
  }
}

/**
 * Whether process `pid` itself listens on TCP `port`. That the port accepts connections is not
 * enough to know a child started: had another test process taken the port, its server would
 * answer while ours failed to bind.
 */
export function listensOn(pid: number, port: number): boolean {
  const listening = tcpSocketInodes(port, TCP_LISTEN);
  if (listening.size === 0) return false;
  for (const inode of socketInodes(pid)) if (listening.has(inode)) return true;
  return false;
}

/** Socket states as /proc/net/tcp writes them. */
export const TCP_ESTABLISHED = '01';
export const TCP_LISTEN = '0A';

/** Inodes of the TCP sockets in `state` whose local port is `port` (Linux: /proc/net/tcp, tcp6). */
export function tcpSocketInodes(port: number, state: string): Set<string> {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {}
    for (const line of text.split('\n').slice(1)) {
      // sl local_address rem_address st tx_queue:rx_queue tr:when retrnsmt uid timeout inode
      const fields = line.trim().split(/\s+/);
      if (fields[3] !== state || fields[9] === undefined) continue;
      if (Number.parseInt(fields[1]!.split(':')[1]!, 16) === port) inodes.add(fields[9]);
    }
  }
  return inodes;
}

/** Inodes of the sockets a process holds open (Linux: /proc/PID/fd); none once it is gone. */
export function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  let descriptors: string[] = [];
  try {
    descriptors = readdirSync(`/proc/${pid}/fd`);
  } catch {}
  for (const fd of descriptors) {
    try {
      const socket = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (socket) inodes.add(socket[1]!);
    } catch {
      // closed while we looked
    }
  }
  return inodes;
}

/** Inodes of the listening unix sockets bound to `path`, or to a path `path` accepts (Linux: /proc/net/unix). */
export function unixListenerInodes(path: string | ((bound: string) => boolean)): Set<string> {
  const matches = typeof path === 'string' ? (bound: string) => bound === path : path;
  const inodes = new Set<string>();
  let text = '';
  try {
    text = readFileSync('/proc/net/unix', 'utf8');
  } catch {}
  for (const line of text.split('\n').slice(1)) {
    // Num RefCount Protocol Flags Type St Inode Path; flag 0x10000 is __SO_ACCEPTCON (listening)
    const [, , , flags, , , inode, bound] = line.trim().split(/\s+/);
    if (bound && matches(bound) && inode && (Number.parseInt(flags ?? '0', 16) & 0x10000) !== 0)
      inodes.add(inode);
  }
  return inodes;
}

/** The processes that hold one of these sockets open (Linux: /proc/PID/fd). */
export function socketHolders(inodes: Set<string>): number[] {
  if (inodes.size === 0) return [];
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    for (const inode of socketInodes(Number(entry))) {
      if (inodes.has(inode)) {
        pids.push(Number(entry));
        break;
      }
    }
  }
  return pids;
}

/** The first of `count` consecutive free ports (for max-procs' port+n), as freePort() picks them. */
export async function freePortRange(count: number): Promise<number> {
  const top = ephemeralPorts().low - count;
  for (let tries = 0; tries < 100; tries++) {
    const base = 10_000 + Math.floor(Math.random() * (top - 10_000));
    let free = true;
    for (let n = 0; n < count && free; n++) free = await canListen(base + n);
    if (free) return base;
  }
  throw new Error(`no ${count} consecutive free ports found`);
}

/** Whether something accepts connections at a TCP port on 127.0.0.1 or at a unix socket path. */
export function acceptsConnections(
  target: number | { host: string; port: number } | { socket: string },
): Promise<boolean> {
  const options =
    typeof target === 'number'
      ? { port: target, host: '127.0.0.1' }
      : 'socket' in target
        ? { path: target.socket }
        : target;
  return new Promise((resolve) => {
    const socket = net.connect(options);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
