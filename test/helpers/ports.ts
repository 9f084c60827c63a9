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

/**
 * A TCP port on 127.0.0.1 that refuses connections for as long as the test runs: a stand-in for
 * a backend that is down. A port that freePort() released is not enough: another test process
 * may be handed it and start php-cgi or a fake backend there, and the "dead" host answers.
 *
 * The port stays taken because one accepted connection still holds it after its listener is
 * closed. Nothing listens, so connects are refused; and while it is held, bind(0) never hands it
 * out, so freePort() and every listen(0) in the other test processes go elsewhere.
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
