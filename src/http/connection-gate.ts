import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../log.js';

/**
 * server.max-connections as lighttpd does it: at the limit it stops accepting, so a new
 * client waits (its connection made, nothing read, nothing answered) until an open connection
 * closes, and is then served like any other. Node's own `server.maxConnections` would drop it
 * instead. Node cannot stop accepting, so waiting connections are accepted paused and kept in
 * order, up to WAITING_LIMIT (lighttpd's listen backlog, which the kernel keeps for it);
 * beyond that they are closed, as a full backlog turns clients away.
 */
export const WAITING_LIMIT = 1024;

export function limitConnections(server: Server, limit: number, log: Logger): void {
  const handlers = server.listeners('connection') as Array<(socket: Socket) => void>;
  for (const handler of handlers) server.removeListener('connection', handler);
  // Accepted sockets stay unread until handed to HTTP: bytes a waiting client sends stay in
  // the kernel, as they would in lighttpd's backlog.
  (server as Server & { pauseOnConnect: boolean }).pauseOnConnect = true;
  let open = 0;
  const waiting: Socket[] = [];
  let full = false;

  const serve = (socket: Socket) => {
    open++;
    socket.once('close', release);
    for (const handler of handlers) handler.call(server, socket);
    socket.resume();
  };
  function release() {
    open--;
    while (open < limit && waiting.length > 0) {
      const next = waiting.shift()!;
      if (!next.destroyed) serve(next);
    }
    if (full && waiting.length === 0) {
      full = false;
      log.info('server', `below server.max-connections (${limit}) again: accepting`);
    }
  }
  server.on('connection', (socket: Socket) => {
    if (open < limit) return serve(socket);
    if (waiting.length >= WAITING_LIMIT) {
      socket.destroy();
      return;
    }
    if (!full) {
      full = true;
      log.info('server', `server.max-connections (${limit}) reached: new connections wait`);
    }
    waiting.push(socket);
  });
  // Waiting connections are not HTTP's yet: close() would wait for them forever.
  const close = server.close;
  server.close = function closeWithWaiting(this: Server, ...args: Parameters<Server['close']>) {
    for (const socket of waiting.splice(0)) socket.destroy();
    return close.apply(this, args);
  } as Server['close'];
}
