import { closeSync, existsSync, ftruncateSync, openSync, unlinkSync, writeSync } from 'node:fs';
import type { Server as NetServer } from 'node:net';

/**
 * Where to listen: server.bind + server.port, a unix socket when server.bind starts with `/`,
 * or a socket already listening on a descriptor (systemd socket activation).
 */
export type ListenAddress = { host: string; port: number } | { path: string } | { fd: number };

export function describeAddress(address: ListenAddress): string {
  if ('fd' in address) return `fd ${address.fd}`;
  return 'path' in address
    ? `unix:${address.path}`
    : `http://${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
}

/** sd_listen_fds(3): the first descriptor systemd hands over. */
const SD_LISTEN_FDS_START = 3;

/**
 * server.systemd-socket-activation: the listening sockets systemd (or any supervisor speaking
 * its protocol) passed on fd 3, 4, …, or undefined when none were passed to this process.
 * `LISTEN_PID` must name this process; lighttpd also accepts `parent:PID` naming the parent,
 * which is what a supervisor that cannot know the child's pid in advance (a test, a wrapper)
 * sets. The variables are removed so that spawned programs (php-cgi) do not take the sockets
 * for theirs.
 */
export function activatedSockets(
  env: NodeJS.ProcessEnv = process.env,
  pid: number = process.pid,
  ppid: number = process.ppid,
): Array<{ fd: number }> | undefined {
  const listenPid = env.LISTEN_PID ?? '';
  const count = Number.parseInt(env.LISTEN_FDS ?? '', 10);
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
  const ours = listenPid.startsWith('parent:')
    ? Number(listenPid.slice('parent:'.length)) === ppid
    : Number(listenPid) === pid;
  if (!ours || !(count > 0 && count < 5000)) return undefined;
  return Array.from({ length: count }, (_, i) => ({ fd: SD_LISTEN_FDS_START + i }));
}

/** Listens, turning the errors a user makes (busy port, no permission) into one clear line. */
export async function listenOn(server: NetServer, address: ListenAddress): Promise<ListenAddress> {
  if ('path' in address && existsSync(address.path)) unlinkSync(address.path);
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      const where = describeAddress(address);
      if (err.code === 'EADDRINUSE')
        reject(new Error(`cannot listen on ${where}: the address is already in use`));
      else if (err.code === 'EACCES') reject(new Error(`cannot listen on ${where}: permission denied`));
      else if (err.code === 'EADDRNOTAVAIL')
        reject(new Error(`cannot listen on ${where}: no such local address`));
      else reject(new Error(`cannot listen on ${where}: ${err.message}`));
    };
    server.once('error', onError);
    const done = () => {
      server.off('error', onError);
      resolve();
    };
    if ('fd' in address) server.listen({ fd: address.fd }, done);
    else if ('path' in address) server.listen(address.path, done);
    // An IPv6 address is IPv6 only, as lighttpd sets IPV6_V6ONLY: `[::]:443` next to
    // `0.0.0.0:443` are two sockets, not one taking both.
    else
      server.listen({ port: address.port, host: address.host, ipv6Only: address.host.includes(':') }, done);
  });
  if ('path' in address) return address;
  const bound = server.address();
  // An inherited unix socket: its path is what `address()` gives.
  if (typeof bound === 'string') return { path: bound };
  if (!bound) return address;
  return { host: bound.address, port: bound.port };
}

/** server.username / server.groupname: give up root after the port is bound, as lighttpd does. */
export function dropPrivileges(user: string | undefined, group: string | undefined): void {
  if (!user && !group) return;
  if (process.getuid?.() !== 0) return; // lighttpd ignores them when not started as root
  if (group) process.setgid!(group);
  if (user) {
    (process as unknown as { initgroups(user: string, group: string): void }).initgroups(user, group ?? user);
    process.setuid!(user);
  }
}

/**
 * server.pid-file: written before privileges are dropped. The descriptor stays open, so at exit
 * the file can still be emptied when it can no longer be removed (a root-owned /run), as
 * lighttpd does: the file never names a process that is gone.
 */
export function writePidFile(path: string | undefined): () => void {
  if (!path) return () => {};
  const fd = openSync(path, 'w', 0o644);
  writeSync(fd, `${process.pid}\n`);
  return () => {
    try {
      unlinkSync(path);
    } catch {
      try {
        ftruncateSync(fd, 0);
      } catch {
        // nothing more we can do; the next start overwrites it
      }
    }
    closeSync(fd);
  };
}
