/**
 * Where an authorizer answers: a FastCGI socket in the FCGI_AUTHORIZER role (lighttpd's
 * `"mode" => "authorizer"`) and a plain HTTP endpoint (nginx's auth_request). Both hand the
 * request to the same Koa app.
 */

import { existsSync, unlinkSync } from 'node:fs';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type ServerResponse,
  STATUS_CODES,
} from 'node:http';
import { isIP, type Server } from 'node:net';
import { createServer as createFastCgiServer } from 'node-fastcgi';

export type EndpointAddress = { host: string; port: number } | { path: string };

export class AddressError extends Error {}

/** `host:port`, `[v6]:port`, `:port` or a bare port (127.0.0.1), or a unix socket path `/…`. */
export function parseEndpointAddress(text: string): EndpointAddress {
  if (text.startsWith('/')) return { path: text };
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d+)$/.exec(text) ?? /^()()(\d+)$/.exec(text);
  const port = match ? Number(match[3]) : Number.NaN;
  const host = match ? match[1] || match[2] || '127.0.0.1' : '';
  if (!match || !(port > 0 && port < 65536) || (match[1] && isIP(match[1]) !== 6))
    throw new AddressError(`${JSON.stringify(text)} is not host:port or a /unix/socket path`);
  return { host, port };
}

export function describeEndpoint(address: EndpointAddress): string {
  if ('path' in address) return `unix:${address.path}`;
  return `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * FastCGI authorizer requests. node-fastcgi builds an http-like request from the CGI params
 * (REQUEST_URI, HTTP_*, REQUEST_METHOD; REMOTE_ADDR as the socket's remoteAddress, which the
 * conditions and the trigger see) and writes the answer as a CGI response (`Status: 403`).
 * Responder requests are refused by it with FCGI_UNKNOWN_ROLE: this serves nothing.
 */
export function fastcgiAuthorizerServer(handler: Handler): Server {
  return createFastCgiServer(null, (req, res) => {
    // Node would add `Connection: close` (node-fastcgi keeps no connection state), and
    // lighttpd takes a backend's close as its own: the client's connection would end after
    // every refusal.
    res.removeHeader('Connection');
    handler(req, res);
  });
}

export interface HttpEndpointOptions {
  /**
   * A request header that names the original request-target (`X-Original-URI` set by nginx
   * from $request_uri). Without it the request line's target is the one judged.
   */
  uriHeader?: string;
  /**
   * A request header that names the client's address (`X-Real-IP` set by nginx from
   * $remote_addr), for $HTTP["remoteip"] and the trigger. Only for a front server that always
   * sets it: a client could send it too.
   */
  addressHeader?: string;
  /**
   * nginx's auth_request passes only 401 and 403 (anything else becomes its 500, with an
   * error logged and the connection closed): send the other refusals (the trigger's 307,
   * secdownload's 410, a 400) as 401 with their own status in `X-Koa-Lighty-Status`, for the nginx
   * conf to turn back (see README). A 401 of mod_auth keeps its WWW-Authenticate.
   */
  nginx?: boolean;
}

export const STATUS_HEADER = 'X-Koa-Lighty-Status';

/** nginx auth_request subrequests, as plain HTTP. */
export function httpAuthorizerServer(handler: Handler, options: HttpEndpointOptions = {}): Server {
  const uriHeader = options.uriHeader?.toLowerCase();
  const addressHeader = options.addressHeader?.toLowerCase();
  return createHttpServer((req, res) => {
    if (uriHeader) {
      const uri = req.headers[uriHeader];
      if (typeof uri === 'string' && uri.startsWith('/')) req.url = uri;
    }
    if (addressHeader) {
      const address = req.headers[addressHeader];
      if (typeof address === 'string' && isIP(address)) req.socket = withRemoteAddress(req.socket, address);
    }
    if (options.nginx) asNginxCanPass(res);
    handler(req, res);
  });
}

/**
 * Every refusal as 401 or 403, the real status beside it (the body is nginx's own anyway). A
 * 5xx stays one: nginx's 500 for it is the truth.
 */
function asNginxCanPass(res: ServerResponse): void {
  const writeHead = res.writeHead;
  res.writeHead = function nginxStatusWriteHead(this: ServerResponse, status: number, ...rest: unknown[]) {
    let sent = status;
    if (status >= 300 && status < 500 && status !== 401 && status !== 403) {
      this.setHeader(STATUS_HEADER, String(status));
      sent = 401;
      this.statusMessage = STATUS_CODES[401]!;
      if (typeof rest[0] === 'string') rest[0] = this.statusMessage;
    }
    return (writeHead as (...args: unknown[]) => ServerResponse).call(this, sent, ...rest);
  } as ServerResponse['writeHead'];
}

/** The connection as it is, but from `address`: a view for this request only, the socket untouched. */
function withRemoteAddress<T extends object>(socket: T, address: string): T {
  return new Proxy(socket, {
    get(target, property) {
      if (property === 'remoteAddress') return address;
      if (property === 'remoteFamily') return isIP(address) === 6 ? 'IPv6' : 'IPv4';
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** Listens; a busy or forbidden address is one clear line. */
export async function listenAt(server: Server, address: EndpointAddress): Promise<void> {
  if ('path' in address && existsSync(address.path)) unlinkSync(address.path);
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE' ? 'the address is already in use' : (err.code ?? err.message);
      reject(new Error(`cannot listen on ${describeEndpoint(address)}: ${why}`));
    };
    server.once('error', onError);
    const done = () => {
      server.off('error', onError);
      resolve();
    };
    if ('path' in address) server.listen(address.path, done);
    else server.listen(address.port, address.host, done);
  });
}
