/**
 * A real php-cgi for tests, started on a free port or a temporary unix socket, independent
 * of src/backends (so those can be tested against it). Stopped by process group id, which
 * is its own pid: it is spawned detached, so the group holds php-cgi and its workers only.
 *
 * On TCP it is handed a socket we already listen on, as its stdin (FCGI_LISTENSOCK_FILENO,
 * the way lighttpd spawns it), rather than a port number to bind: a port that was free a
 * moment ago can be taken by another test process before php-cgi binds it, and then the test
 * would talk to somebody else's server.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { acceptsConnections } from './ports.js';

export const PHP_FIXTURES = fileURLToPath(new URL('../../fixtures/php/', import.meta.url));

export type PhpCgiAddress = { host: string; port: number } | { socket: string };

export interface StartPhpCgiOptions {
  /** PHP_FCGI_CHILDREN (default 1). */
  children?: number;
  /** PHP_FCGI_MAX_REQUESTS (php-cgi's default is 500). */
  maxRequests?: number;
  env?: Record<string, string>;
  /** Listen on a temporary unix socket instead of a TCP port. */
  socket?: boolean;
  /** php.ini settings passed as `-d name=value`. */
  ini?: Record<string, string>;
}

export interface RunningPhpCgi {
  address: PhpCgiAddress;
  pid: number;
  process: ChildProcess;
  /** Everything php-cgi wrote to stdout/stderr. */
  output: string[];
  stop(): Promise<void>;
}

/** Whether php-cgi (or anything) accepts connections at the address. */
export const canConnect = (address: PhpCgiAddress): Promise<boolean> => acceptsConnections(address);

export async function startPhpCgi(options: StartPhpCgiOptions = {}): Promise<RunningPhpCgi> {
  let address: PhpCgiAddress;
  let dir: string | undefined;
  let listener: Server | undefined;
  if (options.socket) {
    dir = mkdtempSync(join(tmpdir(), 'koa-lighty-php-'));
    address = { socket: join(dir, 'php.sock') };
  } else {
    listener = await listenOnFreePort();
    address = { host: '127.0.0.1', port: (listener.address() as AddressInfo).port };
  }
  const bind = 'socket' in address ? address.socket : `${address.host}:${address.port}`;
  const env: Record<string, string> = { ...(process.env as Record<string, string>), ...options.env };
  env.PHP_FCGI_CHILDREN = String(options.children ?? 1);
  if (options.maxRequests !== undefined) env.PHP_FCGI_MAX_REQUESTS = String(options.maxRequests);
  const ini = Object.entries(options.ini ?? {}).flatMap(([k, v]) => ['-d', `${k}=${v}`]);
  const child = spawn('php-cgi', [...ini, ...(listener ? [] : ['-b', bind])], {
    env,
    detached: true,
    stdio: [listener ? listeningFd(listener) : 'ignore', 'pipe', 'pipe'],
  });
  // php-cgi holds its own copy of the socket now; ours must not accept its connections.
  listener?.close();
  const output: string[] = [];
  child.stdout!.on('data', (b: Buffer) => output.push(b.toString()));
  child.stderr!.on('data', (b: Buffer) => output.push(b.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pid = child.pid!;

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {}
      await exited;
    } else {
      // The master is gone; its workers may not be.
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {}
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 10_000;
  while (!(await canConnect(address))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`php-cgi did not start on ${bind}: ${output.join('')}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return { address, pid, process: child, output, stop };
}

function listenOnFreePort(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

/** The file descriptor of a listening server (Node keeps it on the internal handle). */
function listeningFd(server: Server): number {
  const fd = (server as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('no file descriptor for the listening socket');
  return fd;
}

/** The CGI params php-cgi needs to run fixtures/php/<script>. */
export function phpParams(script: string, extra: Record<string, string> = {}): [string, string][] {
  const file = join(PHP_FIXTURES, script);
  return Object.entries({
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_PROTOCOL: 'HTTP/1.1',
    REQUEST_METHOD: 'GET',
    SCRIPT_FILENAME: file,
    SCRIPT_NAME: `/${script}`,
    REQUEST_URI: `/${script}`,
    DOCUMENT_ROOT: PHP_FIXTURES,
    QUERY_STRING: '',
    REDIRECT_STATUS: '200',
    SERVER_NAME: 'localhost',
    SERVER_PORT: '80',
    REMOTE_ADDR: '127.0.0.1',
    ...extra,
  });
}
