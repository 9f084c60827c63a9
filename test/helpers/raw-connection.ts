/**
 * One TCP connection to a server on 127.0.0.1 that a test drives byte by byte: it writes what
 * it wants when it wants (half a head, a body that never ends, nothing at all), reads or stops
 * reading, and sees what came back and whether the server closed. For the limits of a
 * connection (idle times, keep-alive, max-connections, bandwidth), which fetch hides.
 */
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';

export interface ParsedResponse {
  status: number;
  /** Lower-case names; repeated headers joined with ', '. */
  headers: Record<string, string>;
  body: Buffer;
}

export class RawConnection {
  readonly socket: Socket;
  readonly #chunks: Buffer[] = [];
  #length = 0;
  /** The server ended or reset the connection. */
  closed = false;
  /** performance.now() of the first byte received. */
  firstByteAt: number | undefined;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.firstByteAt ??= performance.now();
      this.#chunks.push(chunk);
      this.#length += chunk.length;
    });
    socket.on('error', () => {
      this.closed = true;
    });
    socket.on('close', () => {
      this.closed = true;
    });
  }

  static open(port: number): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host: '127.0.0.1' });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RawConnection(socket));
      });
    });
  }

  /** The port this end uses (to find the server's end in /proc/net/tcp). */
  get localPort(): number {
    return this.socket.localPort!;
  }

  get bytes(): number {
    return this.#length;
  }

  get received(): Buffer {
    return Buffer.concat(this.#chunks, this.#length);
  }

  write(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  /** `GET path HTTP/1.1` with a Host and the extra header lines given. */
  get(path: string, headers: string[] = []): void {
    this.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n`);
  }

  /** The complete responses received so far, in order (bodies framed by Content-Length or chunked). */
  responses(): ParsedResponse[] {
    return parseResponses(this.received);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

function parseResponses(data: Buffer): ParsedResponse[] {
  const found: ParsedResponse[] = [];
  let at = 0;
  for (;;) {
    const end = data.indexOf('\r\n\r\n', at);
    if (end < 0) return found;
    const [statusLine, ...lines] = data.subarray(at, end).toString('latin1').split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    const status = Number(statusLine!.split(' ')[1]);
    let bodyStart = end + 4;
    if (status === 100) {
      at = bodyStart;
      found.push({ status, headers, body: Buffer.alloc(0) });
      continue;
    }
    if (headers['transfer-encoding'] === 'chunked') {
      const parts: Buffer[] = [];
      for (;;) {
        const eol = data.indexOf('\r\n', bodyStart);
        if (eol < 0) return found;
        const size = Number.parseInt(data.subarray(bodyStart, eol).toString('latin1'), 16);
        if (data.length < eol + 2 + size + 2) return found;
        parts.push(data.subarray(eol + 2, eol + 2 + size));
        bodyStart = eol + 2 + size + 2;
        if (size === 0) break;
      }
      found.push({ status, headers, body: Buffer.concat(parts) });
      at = bodyStart;
      continue;
    }
    const length = Number(headers['content-length'] ?? 0);
    if (data.length < bodyStart + length) return found;
    found.push({ status, headers, body: data.subarray(bodyStart, bodyStart + length) });
    at = bodyStart + length;
  }
}

const TCP_STATES: Record<string, string> = {
  '01': 'ESTABLISHED',
  '04': 'FIN_WAIT1',
  '05': 'FIN_WAIT2',
  '06': 'TIME_WAIT',
  '07': 'CLOSE',
  '08': 'CLOSE_WAIT',
  '09': 'LAST_ACK',
  '0B': 'CLOSING',
};

/**
 * The state of the server's end of a connection on 127.0.0.1, from /proc/net/tcp (undefined
 * once the kernel forgot it): how a test sees that a server gave up on a client that stopped
 * reading, whose own end cannot tell while its receive window is full.
 */
export function serverEndState(serverPort: number, clientPort: number): string | undefined {
  const hex = (port: number) => port.toString(16).toUpperCase().padStart(4, '0');
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 4) continue;
    if (fields[1]!.endsWith(`:${hex(serverPort)}`) && fields[2]!.endsWith(`:${hex(clientPort)}`))
      return TCP_STATES[fields[3]!] ?? fields[3];
  }
  return undefined;
}
