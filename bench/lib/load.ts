import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { connect as connectHttp2 } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { ServerKind } from './servers.js';
import { type Site, secdownloadPath } from './site.js';

export interface Workload {
  id: string;
  title: string;
  /** What the numbers of this workload say (for the report). */
  measures: string;
  /**
   * wrk (HTTP/1.1, keep-alive), h2load (HTTP/2 over TLS, several streams per connection), or
   * the upload client.
   */
  driver: 'wrk' | 'h2load' | 'upload';
  /** https: the server's TLS listener (wrk speaks HTTP/1.1 over it; h2load picks h2 by ALPN). */
  scheme?: 'https';
  /** The URL path each server is driven with. */
  path(kind: ServerKind): string;
  /** Request headers sent with every request (wrk's -H), such as Accept-Encoding. */
  headers?: Record<string, string>;
  /**
   * What a correct answer is: checked once per server and round before the load. `encoding`:
   * the Content-Encoding it must have; `bytes` then counts the body once decoded.
   */
  expect: { bytes?: number; contains?: string; encoding?: 'gzip' };
  /** A few words under the chart panel's title, when a bar is not what its label says. */
  chartNote?: string;
  /** A note on a server that does something different in this workload. */
  note?: Partial<Record<ServerKind, string>>;
}

export const UPLOAD_BYTES = 100 * 1024 * 1024;

/** h2load -m: concurrent streams per HTTP/2 connection. */
export const H2_STREAMS = 10;

export function workloads(site: Site): Workload[] {
  const link = secdownloadPath(site.secret, '/1k.bin');
  return [
    {
      id: 'hello',
      title: 'hello.php',
      measures: 'one small PHP request: HTTP parsing, the FastCGI round trip, the response',
      driver: 'wrk',
      path: () => '/hello.php',
      expect: { contains: 'Hello, world' },
    },
    {
      id: 'sendfile-1k',
      title: 'send-file 1 KiB',
      measures: 'a PHP request answered with X-LIGHTTPD-send-file naming a 1 KiB file',
      driver: 'wrk',
      path: () => '/sendfile.php?f=1k',
      expect: { bytes: 1024 },
      note: { nginx: 'X-Accel-Redirect to an internal location' },
    },
    {
      id: 'sendfile-1m',
      title: 'send-file 1 MiB',
      measures: 'a PHP request answered with X-LIGHTTPD-send-file naming a 1 MiB file',
      driver: 'wrk',
      path: () => '/sendfile.php?f=1m',
      expect: { bytes: 1 << 20 },
      note: { nginx: 'X-Accel-Redirect to an internal location' },
    },
    {
      id: 'secdownload',
      title: 'secdownload 1 KiB',
      measures: 'a valid secdownload link (md5, /dl/) to a 1 KiB file: MAC check, then the file',
      driver: 'wrk',
      path: (kind) =>
        kind === 'lighttpd' ? '/protected/1k.bin' : kind === 'nginx' ? link.nginx : link.lighttpd,
      expect: { bytes: 1024 },
      chartNote: 'lighttpd: the file served statically',
      note: {
        lighttpd: 'static file: lighttpd 1.4.69 has no mod_secdownload',
        nginx: 'secure_link (same md5 input, base64url, no expiry check)',
      },
    },
    {
      id: 'static-1k',
      title: 'static 1 KiB',
      measures: 'a 1 KiB static file from the document root',
      driver: 'wrk',
      path: () => '/static/1k.bin',
      expect: { bytes: 1024 },
    },
    {
      id: 'static-1k-gzip',
      title: 'static 1 KiB text, gzip',
      measures: 'a 1 KiB text file asked for with Accept-Encoding: gzip (mod_deflate, no cache-dir)',
      driver: 'wrk',
      path: () => '/static/1k.txt',
      headers: { 'Accept-Encoding': 'gzip' },
      expect: { bytes: 1024, encoding: 'gzip' },
      note: { nginx: 'gzip on (ngx_http_gzip_module)' },
    },
    {
      id: 'https-hello',
      title: 'hello.php over HTTPS',
      measures: 'hello.php over TLS 1.3, HTTP/1.1 keep-alive: the TLS layer on top of the PHP round trip',
      driver: 'wrk',
      scheme: 'https',
      path: () => '/hello.php',
      expect: { contains: 'Hello, world' },
    },
    {
      id: 'https-static-1k',
      title: 'static 1 KiB over HTTPS',
      measures: 'a 1 KiB static file over TLS 1.3, HTTP/1.1 keep-alive',
      driver: 'wrk',
      scheme: 'https',
      path: () => '/static/1k.bin',
      expect: { bytes: 1024 },
    },
    {
      id: 'h2-static-1k',
      title: 'static 1 KiB over HTTP/2',
      measures: `a 1 KiB static file over TLS, HTTP/2 by ALPN, ${H2_STREAMS} streams at a time on each connection (h2load)`,
      driver: 'h2load',
      scheme: 'https',
      path: () => '/static/1k.bin',
      expect: { bytes: 1024 },
    },
    {
      id: 'h2-hello',
      title: 'hello.php over HTTP/2',
      measures: `hello.php over TLS, HTTP/2 by ALPN, ${H2_STREAMS} streams at a time on each connection (h2load)`,
      driver: 'h2load',
      scheme: 'https',
      path: () => '/hello.php',
      expect: { contains: 'Hello, world' },
    },
    {
      id: 'upload-100m',
      title: 'upload 100 MiB',
      measures: 'a 100 MiB POST read by PHP from php://input in 64 KiB chunks (MiB/s, 2 at a time)',
      driver: 'upload',
      path: () => '/upload.php',
      expect: {},
      note: {
        lighttpd: 'buffers the whole body in server.upload-dirs before PHP sees it',
        nginx: 'buffers the whole body in client_body_temp_path before PHP sees it',
      },
    },
  ];
}

/** Where a workload's requests go: the clear-text port, or the TLS one for https workloads. */
export function targetOf(server: { port: number; tlsPort: number }, workload: Workload, kind: ServerKind) {
  const port = workload.scheme === 'https' ? server.tlsPort : server.port;
  return { port, url: `${workload.scheme ?? 'http'}://127.0.0.1:${port}${workload.path(kind)}` };
}

/**
 * One GET (or the upload POST with a small body) to check the answer before the load, over
 * the protocol the load uses: HTTP/1.1 (on TLS for https workloads) or HTTP/2.
 */
export function probe(
  server: { port: number; tlsPort: number },
  workload: Workload,
  kind: ServerKind,
): Promise<string | undefined> {
  const path = workload.path(kind);
  const { port } = targetOf(server, workload, kind);
  if (workload.driver === 'h2load') return probeHttp2(port, workload, path);
  const isUpload = workload.driver === 'upload';
  const request = workload.scheme === 'https' ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    // The upload workload is probed with 1 MiB: enough to see PHP count a body.
    const body = isUpload ? Buffer.alloc(1 << 20, 0x61) : undefined;
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: isUpload ? 'POST' : 'GET',
        agent: false,
        headers: isUpload
          ? { 'content-type': 'application/octet-stream', 'content-length': body!.length }
          : (workload.headers ?? {}),
        timeout: 30000,
        // The site's certificate is self-signed; the load generators do not verify it either.
        rejectUnauthorized: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const got = Buffer.concat(chunks);
          resolve(
            checkAnswer(
              workload,
              path,
              res.statusCode ?? 0,
              res.headers['content-encoding'],
              got,
              body?.length,
            ),
          );
        });
        res.on('error', (err) => resolve(`${path}: ${err.message}`));
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer within 30 s')));
    req.on('error', (err) => resolve(`${path}: ${err.message}`));
    req.end(body);
  });
}

/** What is wrong with an answer (undefined: nothing). */
function checkAnswer(
  workload: Workload,
  path: string,
  status: number,
  contentEncoding: string | string[] | undefined,
  received: Buffer,
  uploaded?: number,
): string | undefined {
  let got = received;
  if (status !== 200) return `${path} answered ${status}`;
  const encoding = workload.expect.encoding;
  if (encoding && contentEncoding !== encoding)
    return `${path} answered with Content-Encoding ${contentEncoding ?? 'none'}`;
  if (encoding) {
    try {
      got = gunzipSync(got);
    } catch (err) {
      return `${path}: the gzip body does not decode: ${(err as Error).message}`;
    }
  }
  if (workload.expect.bytes !== undefined && got.length !== workload.expect.bytes)
    return `${path} sent ${got.length} bytes, not ${workload.expect.bytes}`;
  const contains = uploaded !== undefined ? String(uploaded) : workload.expect.contains;
  if (contains !== undefined && !got.toString().includes(contains))
    return `${path} answered ${JSON.stringify(got.toString().slice(0, 80))}`;
  return undefined;
}

/** The h2 probe: one stream on a TLS connection that must have chosen h2 by ALPN. */
function probeHttp2(port: number, workload: Workload, path: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const session = connectHttp2(`https://127.0.0.1:${port}`, { rejectUnauthorized: false });
    const done = (why: string | undefined) => {
      session.close();
      resolve(why);
    };
    session.on('error', (err) => done(`${path}: h2: ${err.message}`));
    session.setTimeout(30000, () => done(`${path}: h2: no answer within 30 s`));
    const stream = session.request({ ':path': path, ...(workload.headers ?? {}) });
    let status = 0;
    let encoding: string | undefined;
    const chunks: Buffer[] = [];
    stream.on('response', (headers) => {
      status = Number(headers[':status']);
      encoding = headers['content-encoding'] as string | undefined;
    });
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => done(checkAnswer(workload, path, status, encoding, Buffer.concat(chunks))));
    stream.on('error', (err) => done(`${path}: h2 stream: ${err.message}`));
  });
}

export interface WrkResult {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** Non-2xx/3xx answers plus socket errors (connect, read, write, timeout). */
  errors: number;
  raw: string;
}

export interface WrkOptions {
  threads: number;
  connections: number;
  seconds: number;
  /** Request headers (`-H name: value`). */
  headers?: Record<string, string>;
}

export function runWrk(url: string, options: WrkOptions): Promise<WrkResult> {
  const args = [
    `-t${options.threads}`,
    `-c${options.connections}`,
    `-d${options.seconds}s`,
    '--timeout',
    '10s',
    '--latency',
    ...Object.entries(options.headers ?? {}).flatMap(([name, value]) => ['-H', `${name}: ${value}`]),
    url,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.once('error', reject);
    child.once('close', (code) => {
      const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
      if (code !== 0 || !rps)
        return reject(new Error(`wrk failed (exit ${code}): ${out.trim().slice(-300)}`));
      const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
      const requests = /(\d+) requests in/.exec(out);
      resolve({
        rps: Number(rps[1]),
        p50Ms: latencyMs(out, '50%'),
        p99Ms: latencyMs(out, '99%'),
        requests: requests ? Number(requests[1]) : 0,
        errors:
          (non2xx ? Number(non2xx[1]) : 0) +
          (socket ? socket.slice(1, 5).reduce((sum, n) => sum + Number(n), 0) : 0),
        raw: out,
      });
    });
  });
}

/**
 * h2load over TLS (h2 by ALPN): `-c` connections, each with H2_STREAMS streams at a time, for
 * `seconds`. h2load prints no percentiles; its per-request log (start, status, microseconds to
 * the end of the response) gives them.
 */
export async function runH2load(url: string, options: WrkOptions): Promise<WrkResult> {
  const logDir = await mkdtemp(join(tmpdir(), 'koa-lighty-h2load-'));
  const logFile = join(logDir, 'requests.tsv');
  try {
    const result = await h2load(url, options, logFile);
    const times = (await readFile(logFile, 'utf8'))
      .split('\n')
      .map((line) => Number(line.split('\t')[2]))
      .filter((us) => Number.isFinite(us))
      .sort((a, b) => a - b);
    const at = (q: number) =>
      times.length ? times[Math.min(times.length - 1, Math.ceil(times.length * q) - 1)]! / 1000 : Number.NaN;
    return { ...result, p50Ms: at(0.5), p99Ms: at(0.99) };
  } finally {
    await rm(logDir, { recursive: true, force: true });
  }
}

function h2load(url: string, options: WrkOptions, logFile: string): Promise<WrkResult> {
  const args = [
    `--log-file=${logFile}`,
    `-t${options.threads}`,
    `-c${options.connections}`,
    `-m${H2_STREAMS}`,
    `-D${options.seconds}`,
    ...Object.entries(options.headers ?? {}).flatMap(([name, value]) => ['-H', `${name}: ${value}`]),
    url,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn('h2load', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.once('error', reject);
    child.once('close', (code) => {
      const rps = /finished in [\d.]+s, ([\d.]+) req\/s/.exec(out);
      const counts =
        /requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(
          out,
        );
      const status = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
      // h2 must have been chosen: h2load falls back to nothing, but say so if ALPN failed.
      if (/No protocol negotiated|ALPN/i.test(out) && !rps)
        return reject(new Error(`h2load: no h2 by ALPN: ${out.trim().slice(-300)}`));
      if (code !== 0 || !rps || !counts)
        return reject(new Error(`h2load failed (exit ${code}): ${out.trim().slice(-300)}`));
      resolve({
        rps: Number(rps[1]),
        p50Ms: Number.NaN,
        p99Ms: Number.NaN,
        requests: Number(counts[2]),
        errors:
          Number(counts[4]) +
          Number(counts[5]) +
          Number(counts[6]) +
          (status ? Number(status[3]) + Number(status[4]) : 0),
        raw: out,
      });
    });
  });
}

function latencyMs(out: string, percentile: string): number {
  const match = new RegExp(`^\\s*${percentile}\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(out);
  if (!match) return Number.NaN;
  const scale = { us: 0.001, ms: 1, s: 1000, m: 60000 }[match[2] as 'us' | 'ms' | 's' | 'm'];
  return Number(match[1]) * scale;
}

export interface UploadResult {
  mibPerSec: number;
  /** Mean seconds from the first byte sent to the answer, per upload. */
  secondsEach: number;
  /** p99 of the same, with few uploads simply the slowest. */
  p99Ms: number;
  uploads: number;
  errors: number;
  firstError?: string;
}

/**
 * The upload driver: `count` POSTs of `bytes` each, `concurrency` at a time, sent from one
 * reused 1 MiB buffer with backpressure honoured. wrk is poor at this (it builds each request
 * in memory and reports requests/s, and 100 MiB bodies are a few requests per second); a small
 * Node client can check each answer (the byte count PHP read) and report MiB/s directly.
 */
export async function runUploads(
  port: number,
  path: string,
  options: { count: number; concurrency: number; bytes: number },
): Promise<UploadResult> {
  const chunk = Buffer.alloc(1 << 20, 0x61);
  const times: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let next = 0;
  const one = () =>
    new Promise<void>((resolve) => {
      const began = performance.now();
      const fail = (why: string) => {
        errors++;
        firstError ??= why;
        resolve();
      };
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port,
          path,
          method: 'POST',
          agent: false,
          headers: { 'content-type': 'application/octet-stream', 'content-length': options.bytes },
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            body += c;
          });
          res.on('end', () => {
            if (res.statusCode !== 200) return fail(`answered ${res.statusCode}`);
            if (body.trim() !== String(options.bytes))
              return fail(`PHP read ${body.trim().slice(0, 40)} bytes`);
            times.push(performance.now() - began);
            resolve();
          });
          res.on('error', (err) => fail(err.message));
        },
      );
      req.on('error', (err) => fail(err.message));
      let sent = 0;
      const write = () => {
        while (sent < options.bytes) {
          const n = Math.min(chunk.length, options.bytes - sent);
          sent += n;
          const more = req.write(n === chunk.length ? chunk : chunk.subarray(0, n));
          if (!more) {
            req.once('drain', write);
            return;
          }
        }
        req.end();
      };
      write();
    });
  const began = performance.now();
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (next < options.count) {
        next++;
        await one();
      }
    }),
  );
  const seconds = (performance.now() - began) / 1000;
  const sorted = [...times].sort((a, b) => a - b);
  return {
    mibPerSec: (times.length * options.bytes) / (1 << 20) / seconds,
    secondsEach: times.length ? times.reduce((a, b) => a + b, 0) / times.length / 1000 : Number.NaN,
    p99Ms: sorted.length
      ? sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)]!
      : Number.NaN,
    uploads: times.length,
    errors,
    firstError,
  };
}
