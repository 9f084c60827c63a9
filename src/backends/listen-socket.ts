/**
 * The listening socket a bin-path program is given as its fd 0 (FCGI_LISTENSOCK_FILENO), the
 * way lighttpd starts every FastCGI program: we bind and listen, the child inherits the socket
 * as its stdin and accepts on it, and our own copy is closed straight away, so that only the
 * child ever accepts a connection.
 *
 * Two details of Node (libuv) shape this:
 *  - a listening server accepts in the event loop's poll phase. Our copy is closed in the same
 *    turn that listened (the 'listening' event comes on the same tick), so no poll phase ever
 *    sees it listening;
 *  - closing a unix socket server unlinks its path. A second name (a hard link) made before
 *    closing keeps the socket reachable, and is renamed back onto the path at once. The socket
 *    keeps its bound name (what `ss -xl` and the child's getsockname() show).
 */
import type { ChildProcess } from 'node:child_process';
import { linkSync, lstatSync, renameSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import { basename, dirname, join } from 'node:path';
import type { FastCgiAddress } from '../fastcgi/connection.js';

/** lighttpd's default `listen-backlog`. */
export const DEFAULT_LISTEN_BACKLOG = 1024;

/**
 * Listens on `address` (unix socket path or TCP host:port), calls `spawnChild` with the
 * socket's file descriptor, then closes our copy. Resolves to the child. Rejects when the
 * address cannot be listened on (nothing is spawned then), when spawnChild throws, or when the
 * socket's name could not be put back after spawnChild returned (that child cannot be reached:
 * the caller, which knows it from spawnChild, stops it).
 *
 * A unix socket path that is a socket is replaced (a stale one: check first that nobody
 * accepts there); anything else at that path is left alone and rejects.
 */
export async function spawnOnListenSocket(
  address: FastCgiAddress,
  spawnChild: (fd: number) => ChildProcess,
  backlog = DEFAULT_LISTEN_BACKLOG,
): Promise<ChildProcess> {
  const path = 'socket' in address ? address.socket : undefined;
  if (path !== undefined) removeStaleSocket(path);
  const server = net.createServer();
  // Cannot happen (see above); were it to, a reset is better than a connection nobody serves.
  server.on('connection', (socket) => socket.destroy());
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.once('listening', () => {
      let child: ChildProcess | undefined;
      let failure: unknown;
      let aside: string | undefined;
      try {
        if (path !== undefined) aside = linkAside(path);
        child = spawnChild(listeningFd(server));
      } catch (error) {
        failure = error;
      }
      server.close();
      try {
        if (aside !== undefined) restoreName(aside, path!);
      } catch (error) {
        failure ??= error;
      }
      if (failure === undefined) resolve(child!);
      else reject(failure);
    });
    // exclusive: in a cluster worker, listen here rather than asking the primary for a handle.
    const where = 'socket' in address ? { path: address.socket } : { host: address.host, port: address.port };
    server.listen({ ...where, backlog, exclusive: true });
  });
}

/**
 * The OS file descriptor of a listening net.Server. Node documents none; its internal handle
 * (libuv's) carries it as `fd` on Unix, -1 on Windows, where nothing can be passed this way.
 */
export function listeningFd(server: net.Server): number {
  const fd = (server as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) {
    throw new Error('the listening socket has no file descriptor to pass on (Unix only)');
  }
  return fd;
}

function removeStaleSocket(path: string): void {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return; // nothing there
  }
  if (!isSocket) throw new Error(`${path} exists and is not a socket; not replacing it`);
  unlinkSync(path);
}

let asideCount = 0;

/** A second name for the socket at `path`, in its directory (rename stays on one file system). */
function linkAside(path: string): string {
  const aside = join(dirname(path), `.${basename(path)}.${process.pid}-${asideCount++}.koa-lighty`);
  removeStaleSocket(aside); // left by a process killed between link and rename
  linkSync(path, aside);
  return aside;
}

function restoreName(aside: string, path: string): void {
  renameSync(aside, path);
  // Had the close not unlinked `path`, both names are one file and rename() did nothing.
  try {
    unlinkSync(aside);
  } catch {
    // renamed: gone, as it should be
  }
}
