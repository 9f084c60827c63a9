/**
 * One FastCGI connection to one backend, carrying one request at a time: php-cgi answers
 * FCGI_MPXS_CONNS=0, and a worker serves exactly the connection it accepted. The connection
 * knows the wire; the exchange (./exchange.ts) knows one request's life on it. Which
 * connection serves which request is the pool's business.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { ConnectFailed, ConnectTimeout, FastCgiError, ProtocolError } from './errors.js';
import { type ExchangeOptions, FastCgiExchange } from './exchange.js';
import {
  decodeNameValuePairs,
  encodeGetValues,
  type FastCgiRecord,
  FCGI_NULL_REQUEST_ID,
  RecordDecoder,
  RecordType,
} from './records.js';
import type { RequestBody } from './request-body.js';

/** Where a backend listens: TCP (127.0.0.1 and friends) or a unix socket path. */
export type FastCgiAddress = { host: string; port: number } | { socket: string };

export function describeAddress(address: FastCgiAddress): string {
  return 'socket' in address ? `unix:${address.socket}` : `${address.host}:${address.port}`;
}

function socketOptions(address: FastCgiAddress): net.NetConnectOpts {
  return 'socket' in address ? { path: address.socket } : { host: address.host, port: address.port };
}

/** Opens a socket, failing with ConnectFailed or ConnectTimeout (which the balancer tells apart). */
export function openSocket(address: FastCgiAddress, connectTimeout: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketOptions(address));
    const timer =
      connectTimeout > 0
        ? setTimeout(() => {
            socket.destroy();
            reject(
              new ConnectTimeout(
                `connect to ${describeAddress(address)} timed out after ${connectTimeout} ms`,
              ),
            );
          }, connectTimeout)
        : undefined;
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      resolve(socket);
    });
    const onError = (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        new ConnectFailed(`connect to ${describeAddress(address)} failed: ${error.code ?? error.message}`, {
          cause: error,
        }),
      );
    };
    socket.once('error', onError);
  });
}

export interface FastCgiConnectionEvents {
  /** The socket is gone, whatever the reason; the connection is useless from now on. */
  close: [];
}

export class FastCgiConnection extends EventEmitter<FastCgiConnectionEvents> {
  /** How many requests this connection has carried, the current one included. */
  requestsStarted = 0;
  private exchange: FastCgiExchange | undefined;
  private readonly decoder = new RecordDecoder((record) => this.onRecord(record));
  private closed = false;

  constructor(
    readonly socket: net.Socket,
    readonly address: FastCgiAddress,
  ) {
    super();
    if (!('socket' in address)) socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    // 'end' alone is enough to know the backend will send nothing more (php-cgi exits
    // after PHP_FCGI_MAX_REQUESTS): stop using the connection at once.
    socket.on('end', () => this.onGone(undefined));
    socket.on('error', (error) => this.onGone(error));
    socket.on('close', () => this.onGone(undefined));
  }

  static async connect(address: FastCgiAddress, connectTimeout: number): Promise<FastCgiConnection> {
    return new FastCgiConnection(await openSocket(address, connectTimeout), address);
  }

  /** Usable for a new request: open, and no request running. */
  get idle(): boolean {
    return !this.closed && this.exchange === undefined;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Starts a request; the connection must be idle. */
  request(options: ExchangeOptions, body: RequestBody): FastCgiExchange {
    if (!this.idle) throw new Error('FastCgiConnection.request() on a busy or closed connection');
    this.requestsStarted++;
    const exchange = new FastCgiExchange(this.socket, options, body, (reusable) => {
      if (this.exchange === exchange) this.exchange = undefined;
      if (!reusable) this.destroy();
    });
    this.exchange = exchange;
    exchange.start();
    return exchange;
  }

  /** Aborts the running request, if any (its connection closes with it). */
  abort(reason: string): void {
    this.exchange?.abort(reason);
  }

  /** Closes the socket: the only abort php-cgi honours (it notices on its next write). */
  destroy(): void {
    if (!this.socket.destroyed) this.socket.destroy();
    this.onGone(undefined);
  }

  private onData(chunk: Buffer): void {
    this.exchange?.noteBytes(chunk.length);
    try {
      this.decoder.push(chunk);
    } catch (error) {
      // Bad framing, a record we did not expect, a broken header block: the request fails
      // (502) and the connection, whose framing can no longer be trusted, is closed.
      this.fail(error instanceof FastCgiError ? error : new ProtocolError(String(error), { cause: error }));
    }
  }

  private onRecord(record: FastCgiRecord): void {
    const exchange = this.exchange;
    if (!exchange) {
      throw new ProtocolError(`FastCGI record type ${record.type} arrived while no request was running`);
    }
    if (record.requestId !== exchange.requestId) {
      throw new ProtocolError(
        `FastCGI record for request id ${record.requestId}, expected ${exchange.requestId}`,
      );
    }
    exchange.onRecord(record);
  }

  private fail(error: FastCgiError): void {
    const exchange = this.exchange;
    this.socket.destroy();
    exchange?.onConnectionFailed(error);
    this.onGone(undefined);
  }

  private onGone(error: Error | undefined): void {
    this.exchange?.onConnectionClosed(error);
    if (this.closed) return;
    this.closed = true;
    if (!this.socket.destroyed) this.socket.destroy();
    this.emit('close');
  }
}

/**
 * Asks a backend for management values (FCGI_MAX_CONNS, FCGI_MAX_REQS, FCGI_MPXS_CONNS) on
 * a connection of its own, closed afterwards. php-cgi answers, then closes its side.
 */
export async function getValues(
  address: FastCgiAddress,
  names: string[],
  timeout = 1000,
): Promise<Map<string, string>> {
  const socket = await openSocket(address, timeout);
  return new Promise((resolve, reject) => {
    const finish = (error: Error | undefined, values?: Map<string, string>) => {
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(values!);
    };
    const timer = setTimeout(
      () =>
        finish(
          new ProtocolError(
            `no FCGI_GET_VALUES_RESULT from ${describeAddress(address)} within ${timeout} ms`,
          ),
        ),
      timeout,
    );
    const decoder = new RecordDecoder((record) => {
      if (record.type !== RecordType.GET_VALUES_RESULT || record.requestId !== FCGI_NULL_REQUEST_ID) {
        throw new ProtocolError(`unexpected FastCGI record type ${record.type} in answer to FCGI_GET_VALUES`);
      }
      const values = new Map<string, string>();
      for (const [name, value] of decodeNameValuePairs(record.content)) {
        values.set(name.toString('latin1'), value.toString('latin1'));
      }
      finish(undefined, values);
    });
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk);
      } catch (error) {
        finish(error as Error);
      }
    });
    socket.on('error', (error) => finish(error));
    socket.on('close', () =>
      finish(new ProtocolError(`${describeAddress(address)} closed without answering FCGI_GET_VALUES`)),
    );
    socket.write(encodeGetValues(names));
  });
}
