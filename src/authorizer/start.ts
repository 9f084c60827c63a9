import type { Server, Socket } from 'node:net';
import type { Logger } from '../log.js';
import type { LoadedConfig } from '../server/app.js';
import { createAuthorizerApp } from './app.js';
import {
  type EndpointAddress,
  fastcgiAuthorizerServer,
  type HttpEndpointOptions,
  httpAuthorizerServer,
  listenAt,
} from './endpoints.js';

export interface AuthorizerOptions extends HttpEndpointOptions {
  /** Where FastCGI authorizer requests come in (lighttpd in front). */
  fastcgi?: EndpointAddress;
  /** Where nginx's auth_request subrequests come in. */
  http?: EndpointAddress;
  log?: Logger;
}

export interface RunningAuthorizer {
  log: Logger;
  /** Stops listening, ends open connections and closes the trigger stores. */
  close(): Promise<void>;
}

/** The authorizer for a loaded conf, listening where asked (at least one of fastcgi, http). */
export async function startAuthorizer(
  loaded: LoadedConfig,
  options: AuthorizerOptions,
): Promise<RunningAuthorizer> {
  const authorizer = createAuthorizerApp(loaded, { log: options.log });
  const handler = authorizer.app.callback();
  const servers: Server[] = [];
  // Front servers keep their connections open: closing ends them too.
  const connections = new Set<Socket>();
  const track = (server: Server) => {
    server.on('connection', (socket: Socket) => {
      connections.add(socket);
      socket.once('close', () => connections.delete(socket));
    });
    servers.push(server);
    return server;
  };
  const close = async () => {
    const closed = servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve())));
    for (const socket of connections) socket.destroy();
    await Promise.all(closed);
    await authorizer.close();
  };
  try {
    await authorizer.ready();
    if (options.fastcgi) {
      await listenAt(track(fastcgiAuthorizerServer(handler)), options.fastcgi);
    }
    if (options.http) {
      await listenAt(track(httpAuthorizerServer(handler, options)), options.http);
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { log: authorizer.log, close };
}
