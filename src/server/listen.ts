import { closeSync, existsSync, ftruncateSync, openSync, unlinkSync, writeSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Where to listen: server.bind + server.port, or a unix socket when server.bind starts with `/`. */
export type ListenAddress = { host: string; port: number } | { path: string };

export function describeAddress(address: ListenAddress): string {
  return 'path' in address
    ? `unix:${address.path}`
    : `http://${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
}

/** Listens, turning the errors a user makes (busy port, no permission) into one clear line. */
export async function listenOn(server: Server, address: ListenAddress): Promise<ListenAddress> {
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
    if ('path' in address) server.listen(address.path, done);
    else server.listen(address.port, address.host, done);
  });
  if ('path' in address) return address;
  const bound = server.address() as AddressInfo;
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
