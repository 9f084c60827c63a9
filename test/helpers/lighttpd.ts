import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import type Koa from 'koa';
import { type RunningDaemon, startDaemon } from './daemon.js';
import { type RawResponse, rawExchange, rawRequest, type Served, serve } from './http.js';
import { onFreePort } from './ports.js';

/**
 * The oracle: Debian's lighttpd 1.4.69, started by a test with a config it writes, on a free
 * port of 127.0.0.1, in the foreground as our own child, and stopped by its pid.
 */
export const LIGHTTPD = '/usr/sbin/lighttpd';

/** Its temp dir holds lighttpd.conf, the pid file and the error log. */
export type RunningLighttpd = RunningDaemon;

/**
 * Runs `lighttpd -D -f conf`. confText must not set server.port, server.bind,
 * server.pid-file or server.errorlog (lighttpd refuses a key assigned twice): they are added
 * here. No server.username: lighttpd keeps the test's user.
 */
export async function startLighttpd(
  confText: string,
  {
    binary = LIGHTTPD,
    alsoPorts = [],
  }: {
    binary?: string;
    /** Ports of `$SERVER["socket"]` blocks in confText: started means listening on them too. */
    alsoPorts?: number[];
  } = {},
): Promise<RunningLighttpd> {
  // A missing oracle fails the test: a comparison that cannot run must not pass.
  if (!existsSync(binary)) throw new Error('lighttpd is not installed: run npm test (it installs it)');
  return onFreePort(async (port) => {
    const dir = await mkdtemp(join(tmpdir(), 'koa-lighty-lighttpd-'));
    const conf = join(dir, 'lighttpd.conf');
    const errorLog = join(dir, 'error.log');
    await writeFile(
      conf,
      `${confText}\n` +
        `server.port = ${port}\n` +
        'server.bind = "127.0.0.1"\n' +
        `server.pid-file = "${join(dir, 'lighttpd.pid')}"\n` +
        `server.errorlog = "${errorLog}"\n`,
    );
    return startDaemon({
      name: 'lighttpd',
      command: binary,
      args: ['-D', '-f', conf],
      ports: [port, ...alsoPorts],
      dir,
      errorLog,
    });
  });
}

/** The parts of a response both servers must agree on (Date and Server aside). */
export const COMPARED_HEADERS = [
  'content-type',
  'content-length',
  'etag',
  'last-modified',
  'content-range',
  'accept-ranges',
  'location',
  'allow',
] as const;

export interface ComparableResponse {
  status: number;
  headers: Partial<Record<(typeof COMPARED_HEADERS)[number], string>>;
  body: string;
}

/** A response reduced to what the comparison looks at; the body as latin1 so every byte shows. */
export function comparable(response: {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}): ComparableResponse {
  const headers: ComparableResponse['headers'] = {};
  for (const name of COMPARED_HEADERS)
    if (response.headers[name] !== undefined) headers[name] = response.headers[name];
  return { status: response.status, headers, body: response.body.toString('latin1') };
}

export const FIXTURE_WWW = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'www');

/**
 * A throw-away copy of fixtures/www, plus a file too large to be kept in memory (100,000
 * bytes, so the streamed and multipart paths are exercised). Both servers of a comparison
 * serve the same copy: the same inodes, so the same ETags.
 */
export function copyOfFixtureWww(): { root: string; remove(): void } {
  const root = mkdtempSync(join(tmpdir(), 'koa-lighty-www-'));
  cpSync(FIXTURE_WWW, root, { recursive: true });
  const line =
    '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-the-quick-brown-fox-jumps-over-it\n';
  writeFileSync(join(root, 'big.txt'), line.repeat(1000));
  return { root, remove: () => rmSync(root, { recursive: true, force: true }) };
}

export interface ComparedRequest {
  path: string;
  method?: string;
  /** Request headers; `$ETAG` and `$LAST_MODIFIED` stand for lighttpd's validators of `path`. */
  headers?: Record<string, string>;
  /** A request body (Content-Length is added). */
  body?: string;
}

export interface Comparison {
  /** The lighttpd.conf for a document root (without port, bind, pid-file, errorlog). */
  lighttpdConf(root: string): string;
  /** The Koa app that must answer like it. */
  koaApp(root: string): Koa;
  /** Extra entries in the document-root copy (symlinks, directories git does not keep). */
  prepare?(root: string): void;
  requests: ComparedRequest[];
}

/**
 * Registers one ava test per request: lighttpd and the Koa app, serving the same copy of
 * fixtures/www, must give the same status, compared headers and body.
 */
export function compareWithLighttpd(title: string, comparison: Comparison): void {
  const docroot = copyOfFixtureWww();
  comparison.prepare?.(docroot.root);
  let lighttpd: RunningLighttpd | undefined;
  let koa: Served | undefined;
  test.before(async () => {
    lighttpd = await startLighttpd(comparison.lighttpdConf(docroot.root));
    koa = await serve(comparison.koaApp(docroot.root));
  });
  test.after.always(async () => {
    await koa?.close();
    await lighttpd?.stop();
    docroot.remove();
  });
  for (const r of comparison.requests) {
    const method = r.method ?? 'GET';
    const shown = `${method} ${r.path}${r.headers ? ` ${JSON.stringify(r.headers)}` : ''}${r.body ? ' +body' : ''}`;
    test(`${title}: ${shown}`, async (t) => {
      const headers = await withValidators(lighttpd!.port, r);
      const [expected, actual] = await Promise.all([
        sendRequest(lighttpd!.port, r.path, headers, method, r.body),
        sendRequest(koa!.port, r.path, headers, method, r.body),
      ]);
      t.deepEqual(comparable(actual), comparable(expected));
    });
  }
}

async function withValidators(port: number, r: ComparedRequest): Promise<Record<string, string>> {
  const headers = r.headers ?? {};
  if (!Object.values(headers).some((v) => v.includes('$'))) return headers;
  const file = await rawRequest(port, r.path);
  const etag = file.headers['etag'] ?? '';
  const lastModified = file.headers['last-modified'] ?? '';
  return Object.fromEntries(
    Object.entries(headers).map(([k, v]) => [
      k,
      v.replace('$ETAG', etag).replace('$LAST_MODIFIED', lastModified),
    ]),
  );
}

function sendRequest(
  port: number,
  path: string,
  headers: Record<string, string>,
  method: string,
  body: string | undefined,
): Promise<RawResponse> {
  if (body === undefined) return rawRequest(port, path, headers, method);
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
  for (const [name, value] of Object.entries({
    ...headers,
    'Content-Length': String(Buffer.byteLength(body)),
  }))
    lines.push(`${name}: ${value}`);
  return rawExchange(port, Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body}`, 'latin1'));
}
