import net from 'node:net';

/** A TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * The first of `count` consecutive free ports (for max-procs' port+n). Picked below Linux's
 * ephemeral range (32768 and up), where freePort() and outgoing connections do not land.
 */
export async function freePortRange(count: number): Promise<number> {
  for (let tries = 0; tries < 100; tries++) {
    const base = 20_000 + Math.floor(Math.random() * 10_000);
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
