import type { Server } from 'node:http';

/** Accepted connection → the `$SERVER["socket"]` it came in on, as written in the config. */
const tokens = new WeakMap<object, string>();

/**
 * Tags every connection the HTTP server gets (clear, or handed over after a TLS handshake)
 * with its listener's token: `$SERVER["socket"] == ":8443"` then matches the socket the
 * config wrote, as in lighttpd, whatever address the kernel reports.
 */
export function tagConnections(server: Server, token: string): void {
  server.prependListener('connection', (socket: object) => tokens.set(socket, token));
}

export function socketToken(socket: object): string | undefined {
  return tokens.get(socket);
}
