import type { Server as HttpServer } from 'node:http';
import type { SecureContextOptions, TlsOptions, Server as TlsServer } from 'node:tls';
import type Koa from 'koa';
import { createHttpServer, type HttpServerOptions } from './http-server.js';
import {
  type AnyRequestListener,
  alpnProtocols,
  type Http2Settings,
  LIGHTTPD_HTTP2,
} from './http2-server.js';
import { createTlsServer } from './tls-server.js';

export interface CreateServerOptions extends Omit<HttpServerOptions, 'http2'> {
  /**
   * HTTPS: the certificate and key (and anything else node:tls takes for its secure context),
   * with an `SNICallback` to choose one per name. Unset: clear text.
   */
  tls?: SecureContextOptions & Pick<TlsOptions, 'SNICallback' | 'requestCert' | 'rejectUnauthorized'>;
  /**
   * HTTP/2 next to HTTP/1.1, as lighttpd 1.4.69 by default: over TLS by ALPN ("h2"), in clear
   * text with prior knowledge. `false` for HTTP/1 only. Default true.
   */
  http2?: boolean | Partial<Http2Settings>;
}

/**
 * The server koa-lighty runs on, for a Koa app of one's own: lighttpd's HTTP/1 edges
 * (createHttpServer), HTTP/2 on the same port, and HTTPS when `tls` is given. Returns a
 * server to `listen()` on: an http.Server for clear text, a tls.Server for HTTPS (its
 * `close()` also closes the connections' HTTP side, sending GOAWAY to HTTP/2 sessions).
 */
export function createServer(
  app: Koa | AnyRequestListener,
  options: CreateServerOptions = {},
): HttpServer | (TlsServer & Pick<HttpServer, 'closeAllConnections' | 'closeIdleConnections'>) {
  const handler = typeof app === 'function' ? app : (app.callback() as AnyRequestListener);
  const { tls, http2 = true, ...httpOptions } = options;
  const settings = http2 === false ? false : { ...LIGHTTPD_HTTP2, ...(http2 === true ? {} : http2) };
  const http = createHttpServer(handler, { ...httpOptions, http2: settings });
  if (!tls) return http;
  // Each socket is handed over once its handshake is done: the HTTP side then reads what ALPN
  // agreed (socket.alpnProtocol) and picks HTTP/2 or HTTP/1 for it.
  const secure = createTlsServer(
    http,
    { ...tls, ALPNProtocols: alpnProtocols(settings === false ? { h2proto: false } : settings) },
    httpOptions.log,
  );
  const close = secure.close;
  return Object.assign(secure, {
    close(this: TlsServer, callback?: (err?: Error) => void) {
      http.close();
      http.closeIdleConnections();
      return close.call(this, callback);
    },
    closeAllConnections: () => http.closeAllConnections(),
    closeIdleConnections: () => http.closeIdleConnections(),
  });
}
