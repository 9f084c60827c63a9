/**
 * The running side of the listeners: one HTTP server per listener (TLS ones behind a
 * node:tls server that hands it the connections), tagged with the socket's token, and the
 * certificate contexts that follow their files.
 */
import type { Server as HttpServer } from 'node:http';
import type { Server as NetServer } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../log.js';
import { chainDepth } from '../middleware/ssl-env.js';
import { ListenerContexts } from '../tls/contexts.js';
import { type ListenAddress, listenOn } from './listen.js';
import type { Listener } from './listeners.js';
import { tagConnections } from './socket-token.js';
import { createTlsServer } from './tls-server.js';

export interface ServedListener {
  /** Where requests are answered: close() and closeIdleConnections() apply here. */
  http: HttpServer;
  /** What listens: the HTTP server itself, or its TLS server. */
  listening: NetServer;
  contexts?: ListenerContexts;
}

export interface ServedListeners {
  servers: ServedListener[];
  /** The HTTP servers, for shutdown. */
  http: HttpServer[];
  listen(): Promise<ListenAddress[]>;
  /** Re-reads every TLS listener's certificates (SIGUSR1): new connections get the new ones. */
  reload(): void;
  /** Stops accepting on the TLS servers and watching files (the HTTP servers are closed by the caller). */
  close(): void;
}

export function serveListeners(
  listeners: Listener[],
  createHttp: () => HttpServer,
  log: Logger,
  /** server.max-read-idle: a handshake that stalls longer is dropped, as an idle read would be. */
  handshakeTimeoutMs = 60_000,
  /** What TLS listeners offer over ALPN (alpnProtocols(): h2 unless server.h2proto is off). */
  alpn: string[] = ['http/1.1'],
): ServedListeners {
  const servers = listeners.map((listener): ServedListener => {
    const http = createHttp();
    // '' (an inherited socket): conditions see the address the kernel reports.
    if (listener.token) tagConnections(http, listener.token);
    if (!listener.tls) return { http, listening: http };
    const contexts = new ListenerContexts(listener.tls, log);
    const { verify } = listener.tls.settings;
    // ssl.verifyclient.depth with enforce: a longer chain is refused, as OpenSSL's verify depth.
    const accept = (socket: TLSSocket) =>
      !(verify.activate && verify.enforce) || chainDepth(socket.getPeerCertificate(true)) <= verify.depth;
    const listening = createTlsServer(
      http,
      { ...contexts.serverOptions(), handshakeTimeout: handshakeTimeoutMs, ALPNProtocols: alpn },
      log,
      accept,
    );
    contexts.attach(listening);
    return { http, listening, contexts };
  });
  return {
    servers,
    http: servers.map((s) => s.http),
    listen: () => Promise.all(servers.map((s, i) => listenOn(s.listening, listeners[i]!.address))),
    reload: () => {
      for (const s of servers) s.contexts?.reload();
    },
    close: () => {
      for (const s of servers) {
        s.contexts?.close();
        if (s.listening !== s.http) s.listening.close();
      }
    },
  };
}

/**
 * Sockets handed over by systemd (or a --workers primary) are served as they come, clear
 * text: a TLS listener among them would not be TLS, so that is refused rather than served.
 */
export function inheritedListeners(fds: Array<{ fd: number }>, configured: Listener[]): Listener[] {
  const tls = configured.find((l) => l.tls);
  if (tls)
    throw new Error(
      `cannot serve TLS (${tls.token}) on sockets passed by socket activation yet: listen on the configured addresses instead`,
    );
  return fds.map((address) => ({ token: '', address }));
}
