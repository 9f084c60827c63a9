import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import type Koa from 'koa';

export interface Served {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Serves a Koa app on 127.0.0.1 on a free port; close() in t.teardown. */
export async function serve(app: Koa): Promise<Served> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface RawResponse {
  /** `HTTP/1.1 200 OK` */
  statusLine: string;
  status: number;
  headers: Record<string, string>;
  /** Header lines exactly as received, in order (for order and case checks). */
  headerLines: string[];
  body: Buffer;
}

/**
 * Sends bytes exactly as given (fetch would normalise `..`, `%2e`, NUL and friends) and reads
 * one response until the server closes; the request is sent with `Connection: close`.
 */
export function rawRequest(
  port: number,
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<RawResponse> {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return rawExchange(port, Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'));
}

/**
 * `halfClose`: shut down the sending side after the request (shutdown(SHUT_WR), as `nc -N`
 * and lighttpd's own test suite do); the response is still read to the end.
 */
export function rawExchange(
  port: number,
  request: Buffer,
  timeoutMs = 10_000,
  { halfClose = false }: { halfClose?: boolean } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete response within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      const all = Buffer.concat(chunks);
      const end = all.indexOf('\r\n\r\n');
      if (end < 0) return reject(new Error(`malformed response: ${all.toString('latin1').slice(0, 200)}`));
      const [statusLine, ...headerLines] = all.subarray(0, end).toString('latin1').split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of headerLines) {
        const colon = line.indexOf(':');
        const name = line.slice(0, colon).toLowerCase();
        const value = line.slice(colon + 1).trim();
        headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
      }
      let body: Buffer = all.subarray(end + 4);
      if (headers['transfer-encoding'] === 'chunked') body = dechunk(body);
      resolve({
        statusLine: statusLine!,
        status: Number(statusLine!.split(' ')[1]),
        headers,
        headerLines,
        body,
      });
    });
    if (halfClose) socket.end(request);
    else socket.write(request);
  });
}

function dechunk(data: Buffer): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = data.indexOf('\r\n', at);
    if (eol < 0) break;
    const size = Number.parseInt(data.subarray(at, eol).toString('latin1'), 16);
    if (!size) break;
    out.push(data.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  return Buffer.concat(out);
}

export interface Answer {
  status: number;
  headers: import('node:http').IncomingHttpHeaders;
  /** Header names as sent, to look for leaks whatever their case. */
  rawNames: string[];
  body: Buffer;
}

/**
 * A GET on a fresh connection, to 127.0.0.1:port or a unix socket, optionally from a chosen
 * loopback source address (the visitor's identity for trigger-before-download).
 */
export function httpGet(
  where: number | { port: number } | { socketPath: string },
  path: string,
  options: { from?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const target =
    typeof where === 'number'
      ? { host: '127.0.0.1', port: where, localAddress: options.from ?? '127.0.0.1' }
      : 'port' in where
        ? { host: '127.0.0.1', port: where.port, localAddress: options.from ?? '127.0.0.1' }
        : { socketPath: where.socketPath };
  return new Promise((resolve, reject) => {
    const req = request({ ...target, path, headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode!,
          headers: res.headers,
          rawNames: res.rawHeaders.filter((_, i) => i % 2 === 0),
          body: Buffer.concat(chunks),
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}
