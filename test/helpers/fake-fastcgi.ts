/**
 * A FastCGI server that does exactly what a test scripts it to, built on our own codec:
 * records split at every byte, records of exactly 65,535 bytes, unknown record types,
 * garbage, a close before any answer, slow answers. It answers FCGI_GET_VALUES by itself
 * (or stays silent, to test the fallback), and counts connections so tests can check the
 * pool's limit.
 */
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  decodeNameValuePairs,
  encodeEndRequest,
  encodeNameValuePairs,
  encodeRecord,
  type FastCgiRecord,
  RecordDecoder,
  RecordType,
} from '../../src/fastcgi/records.js';

export interface FakeRequest {
  requestId: number;
  role: number;
  keepConn: boolean;
  params: Map<string, string>;
  stdin: Buffer;
}

export class FakePeer {
  private records: FastCgiRecord[] = [];
  private wake: (() => void) | undefined;
  private ended = false;
  readonly closed: Promise<void>;
  /** Requests read on this connection so far. */
  requests = 0;

  constructor(
    readonly socket: net.Socket,
    private readonly onBegin: () => void,
  ) {
    const decoder = new RecordDecoder((record) => {
      this.records.push(record);
      this.wake?.();
    });
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk);
      } catch {
        socket.destroy();
      }
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.ended = true;
        this.wake?.();
        resolve();
      }),
    );
  }

  /** The next record from the client, or undefined once it closed. */
  async record(): Promise<FastCgiRecord | undefined> {
    while (this.records.length === 0) {
      if (this.ended) return undefined;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = undefined;
    }
    return this.records.shift();
  }

  /** Reads BEGIN_REQUEST, PARAMS and STDIN up to their terminators; undefined if the client closed. */
  async request(): Promise<FakeRequest | undefined> {
    const begin = await this.record();
    if (!begin) return undefined;
    if (begin.type !== RecordType.BEGIN_REQUEST)
      throw new Error(`fake: expected BEGIN_REQUEST, got ${begin.type}`);
    this.requests++;
    this.onBegin();
    const params: Buffer[] = [];
    const stdin: Buffer[] = [];
    let paramsDone = false;
    let stdinDone = false;
    while (!(paramsDone && stdinDone)) {
      const r = await this.record();
      if (!r) return undefined;
      if (r.type === RecordType.PARAMS) {
        if (r.content.length === 0) paramsDone = true;
        else params.push(r.content);
      } else if (r.type === RecordType.STDIN) {
        if (r.content.length === 0) stdinDone = true;
        else stdin.push(r.content);
      }
    }
    const map = new Map<string, string>();
    for (const [n, v] of decodeNameValuePairs(Buffer.concat(params)))
      map.set(n.toString('latin1'), v.toString('latin1'));
    return {
      requestId: begin.requestId,
      role: begin.content.readUInt16BE(0),
      keepConn: (begin.content[2]! & 1) === 1,
      params: map,
      stdin: Buffer.concat(stdin),
    };
  }

  /** Puts a record back at the front (used to peek at the first one). */
  unread(record: FastCgiRecord): void {
    this.records.unshift(record);
  }

  write(bytes: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  /** Writes the bytes in pieces of `size`, one event-loop turn apart, so each arrives alone. */
  async writeSplit(bytes: Buffer, size = 1): Promise<void> {
    for (let at = 0; at < bytes.length && !this.socket.destroyed; at += size) {
      await new Promise<void>((resolve) => this.socket.write(bytes.subarray(at, at + size), () => resolve()));
    }
  }

  /** A complete answer: STDOUT records, the empty STDOUT, END_REQUEST. */
  static answer(stdout: Buffer | string, requestId = 1, appStatus = 0, protocolStatus = 0): Buffer {
    const body = typeof stdout === 'string' ? Buffer.from(stdout, 'latin1') : stdout;
    return Buffer.concat([
      encodeRecord(RecordType.STDOUT, requestId, body),
      encodeRecord(RecordType.STDOUT, requestId),
      encodeEndRequest(appStatus, protocolStatus, requestId),
    ]);
  }

  close(): void {
    this.socket.destroy();
  }
}

export interface FakeServerOptions {
  /** FCGI_MAX_CONNS to answer; undefined: never answer FCGI_GET_VALUES. */
  maxConns?: number;
}

export interface FakeServer {
  address: { host: string; port: number };
  /** Connections that carried at least one request, currently open. */
  readonly open: number;
  /** The highest `open` ever seen. */
  readonly maxOpen: number;
  /** Every connection accepted, GET_VALUES ones included. */
  readonly accepted: number;
  /** Errors thrown by the script (a test asserts there are none). */
  readonly scriptErrors: Error[];
  close(): Promise<void>;
}

export async function startFakeFastCgi(
  script: (peer: FakePeer) => Promise<void> | void,
  options: FakeServerOptions = { maxConns: 8 },
): Promise<FakeServer> {
  const sockets = new Set<net.Socket>();
  const stats = { open: 0, maxOpen: 0, accepted: 0, scriptErrors: [] as Error[] };
  const server = net.createServer(async (socket) => {
    stats.accepted++;
    sockets.add(socket);
    let counted = false;
    const peer = new FakePeer(socket, () => {
      if (counted) return;
      counted = true;
      stats.open++;
      stats.maxOpen = Math.max(stats.maxOpen, stats.open);
    });
    socket.once('close', () => {
      sockets.delete(socket);
      if (counted) stats.open--;
    });
    try {
      if (await answeredGetValues(peer, options)) return;
      await script(peer);
    } catch (error) {
      stats.scriptErrors.push(error as Error);
      socket.destroy();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    address: { host: '127.0.0.1', port },
    get open() {
      return stats.open;
    },
    get maxOpen() {
      return stats.maxOpen;
    },
    get accepted() {
      return stats.accepted;
    },
    scriptErrors: stats.scriptErrors,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Peeks at the first record: a GET_VALUES is answered (or ignored) here, not by the script. */
async function answeredGetValues(peer: FakePeer, options: FakeServerOptions): Promise<boolean> {
  const first = await peer.record();
  if (!first) return true;
  if (first.type !== RecordType.GET_VALUES) {
    peer.unread(first);
    return false;
  }
  if (options.maxConns !== undefined) {
    const asked = decodeNameValuePairs(first.content).map(([n]) => n.toString());
    const values = asked.map((n): [string, string] => [
      n,
      n === 'FCGI_MPXS_CONNS' ? '0' : String(options.maxConns),
    ]);
    peer.write(encodeRecord(RecordType.GET_VALUES_RESULT, 0, encodeNameValuePairs(values)));
    await sleep(1);
    peer.close();
  }
  return true;
}
