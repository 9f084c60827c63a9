import type { Server as HttpServer } from 'node:http';
import { createServer, type Server, type TLSSocket, type TlsOptions } from 'node:tls';
import type { Logger } from '../log.js';

/**
 * HTTPS over node:tls: each connection, once its handshake is done, is handed to the HTTP
 * server as a connection of its own, so everything createHttpServer() sets up (limits, idle
 * timers, error pages, connection gate, and HTTP/2 by what ALPN agreed when its `http2`
 * option is on) holds on TLS alike. `options.ALPNProtocols` is what is offered (default
 * HTTP/1.1 only; alpnProtocols() gives lighttpd's list). The returned server is the one that
 * listens.
 */
export function createTlsServer(
  http: HttpServer,
  options: TlsOptions,
  log?: Logger,
  /** A last check of the finished handshake; false closes the connection unserved. */
  accept: (socket: TLSSocket) => boolean = () => true,
): Server {
  const server = createServer({ ALPNProtocols: ['http/1.1'], ...options });
  server.on('secureConnection', (socket: TLSSocket) => {
    if (accept(socket)) http.emit('connection', socket);
    else socket.destroy();
  });
  // A failed handshake (a scanner, a client that does not trust the certificate) is no
  // error of the server's: one line at most, never a crash.
  server.on('tlsClientError', (error: NodeJS.ErrnoException, socket: TLSSocket) => {
    if (error.code !== 'ECONNRESET') log?.info('mod_openssl', `TLS handshake failed: ${error.message}`);
    socket.destroy();
  });
  return server;
}
