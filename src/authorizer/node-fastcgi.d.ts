/** The part of node-fastcgi 2.0 (CommonJS, no types of its own) that the authorizer uses. */
declare module 'node-fastcgi' {
  import type { IncomingMessage, ServerResponse } from 'node:http';
  import type { Server as NetServer } from 'node:net';

  type Handler = (req: IncomingMessage, res: ServerResponse) => void;
  interface Config {
    maxConns?: number;
    maxReqs?: number;
    multiplex?: boolean;
  }
  /** responder, authorizer and filter: the listeners of the three FastCGI roles. */
  export function createServer(
    responder?: Handler | null,
    authorizer?: Handler | null,
    filter?: Handler | null,
    config?: Config,
  ): NetServer;
}
