// The memory check (not part of npm test): `node --import tsx bench/memory.ts`.
// Three transfers of 1 GiB through koa-lighty, each of which a server that buffers instead of
// streaming would hold in memory:
//   upload     a 1 GiB POST to a PHP script that reads php://input in 64 KiB chunks
//   stream     a 1 GiB answer written by PHP, read by a client that takes ~20 MiB/s
//   send-file  a 1 GiB file named by X-LIGHTTPD-send-file, read by the same slow client
//   gzip       a 1 GiB text answer written by PHP, compressed by mod_deflate on its way to the
//              same slow client (who decompresses it and counts the bytes)
// Each reports the growth of the server's RSS (peak during the transfer minus RSS before it,
// all of the server's processes, php-cgi excluded) and PASS when it stays under 64 MiB.
// Settings: MEMORY_SERVER=koa-lighty (or koa-lighty-w2, lighttpd, nginx, for comparison),
// MEMORY_MIB=1024 (size of each transfer), MEMORY_RATE=20 (MiB/s of the slow reader),
// MEMORY_LIMIT=64 (MiB of growth allowed), MEMORY_CHECKS=upload,stream,gzip,send-file (which
// checks run; all by default). Exit code 1 when a check fails or cannot run.
import { request } from 'node:http';
import { connect } from 'node:net';
import { createGunzip } from 'node:zlib';
import { probe, runUploads, workloads } from './lib/load.js';
import { installCleanup, onInterrupt, sampleRss, stopAll } from './lib/proc.js';
import { ALL_SERVERS, type RunningServer, startServer } from './lib/servers.js';
import { createSite, startPhp } from './lib/site.js';

const serverId = process.env.MEMORY_SERVER ?? 'koa-lighty';
const mib = Number(process.env.MEMORY_MIB ?? 1024);
const rate = Number(process.env.MEMORY_RATE ?? 20);
const limit = Number(process.env.MEMORY_LIMIT ?? 64);
const only = process.env.MEMORY_CHECKS?.split(',').map((id) => id.trim());
const log = (line: string) => console.error(`memory: ${line}`);

/**
 * GET path over a raw socket and read the answer at about `mibPerSec`: the socket is paused
 * whenever it is ahead of schedule, so the kernel's buffers fill and the server has to wait
 * (or hold what it cannot send). Resolves with the status and the body bytes received.
 */
function slowGet(
  port: number,
  path: string,
  mibPerSec: number,
): Promise<{ status: number; bodyBytes: number }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const bytesPerMs = (mibPerSec * 1024 * 1024) / 1000;
    const began = Date.now();
    let received = 0;
    let head = '';
    let headerBytes = -1;
    let status = 0;
    let timer: NodeJS.Timeout | undefined;
    socket.setNoDelay(true);
    socket.on('connect', () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    });
    socket.on('data', (chunk: Buffer) => {
      if (headerBytes < 0) {
        head += chunk.toString('latin1');
        const end = head.indexOf('\r\n\r\n');
        if (end >= 0) {
          headerBytes = end + 4;
          status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
        }
      }
      received += chunk.length;
      const ahead = received / bytesPerMs - (Date.now() - began);
      if (ahead > 5 && !timer) {
        socket.pause();
        timer = setTimeout(() => {
          timer = undefined;
          socket.resume();
        }, ahead);
      }
    });
    socket.on('end', () => {
      clearTimeout(timer);
      resolve({ status, bodyBytes: headerBytes < 0 ? 0 : received - headerBytes });
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/**
 * GET path with `Accept-Encoding: gzip`, reading the compressed bytes at about `mibPerSec`
 * (the response is paused whenever it is ahead of schedule) and decompressing them. Resolves
 * with the status, the Content-Encoding and the number of bytes once decompressed.
 */
function slowGzipGet(
  port: number,
  path: string,
  mibPerSec: number,
): Promise<{ status: number; encoding: string | undefined; decodedBytes: number }> {
  return new Promise((resolve, reject) => {
    const bytesPerMs = (mibPerSec * 1024 * 1024) / 1000;
    const req = request(
      { host: '127.0.0.1', port, path, agent: false, headers: { 'Accept-Encoding': 'gzip' } },
      (res) => {
        const encoding = res.headers['content-encoding'];
        const began = Date.now();
        let received = 0;
        let decodedBytes = 0;
        let timer: NodeJS.Timeout | undefined;
        const done = () => resolve({ status: res.statusCode ?? 0, encoding, decodedBytes });
        const gunzip = encoding === 'gzip' ? createGunzip() : undefined;
        gunzip?.on('data', (chunk: Buffer) => {
          decodedBytes += chunk.length;
        });
        gunzip?.on('end', done);
        gunzip?.on('error', reject);
        res.on('data', (chunk: Buffer) => {
          received += chunk.length;
          if (gunzip) gunzip.write(chunk);
          else decodedBytes += chunk.length;
          const ahead = received / bytesPerMs - (Date.now() - began);
          if (ahead > 5 && !timer) {
            res.pause();
            timer = setTimeout(() => {
              timer = undefined;
              res.resume();
            }, ahead);
          }
        });
        res.on('end', () => {
          clearTimeout(timer);
          if (gunzip) gunzip.end();
          else done();
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

interface Check {
  /** What MEMORY_CHECKS names it by. */
  id: string;
  name: string;
  run(server: RunningServer): Promise<string | undefined>;
}

const bytes = mib * 1024 * 1024;
const checks: Check[] = [
  {
    id: 'upload',
    name: `upload ${mib} MiB POST to PHP (php://input in chunks)`,
    async run(server) {
      const r = await runUploads(server.port, '/upload.php', { count: 1, concurrency: 1, bytes });
      return r.uploads === 1 ? undefined : `the upload failed: ${r.firstError}`;
    },
  },
  {
    id: 'stream',
    name: `stream  ${mib} MiB written by PHP, read at ${rate} MiB/s`,
    async run(server) {
      const r = await slowGet(server.port, `/stream.php?mib=${mib}`, rate);
      if (r.status !== 200) return `answered ${r.status}`;
      return r.bodyBytes >= bytes ? undefined : `only ${r.bodyBytes} of ${bytes} bytes arrived`;
    },
  },
  {
    id: 'gzip',
    name: `gzip    ${mib} MiB of text written by PHP, compressed, read at ${rate} MiB/s`,
    async run(server) {
      const r = await slowGzipGet(server.port, `/stream.php?text=1&mib=${mib}`, rate);
      if (r.status !== 200) return `answered ${r.status}`;
      // koa-lighty must compress it; the others are measured as they answer (say so if not).
      if (r.encoding !== 'gzip' && server.spec.kind === 'koa-lighty') return 'the answer was not compressed';
      if (r.encoding !== 'gzip') log(`${server.spec.id} sent the gzip check's answer uncompressed`);
      return r.decodedBytes >= bytes ? undefined : `only ${r.decodedBytes} of ${bytes} bytes arrived`;
    },
  },
  {
    id: 'send-file',
    name: `send-file ${mib} MiB by X-LIGHTTPD-send-file, read at ${rate} MiB/s`,
    async run(server) {
      const r = await slowGet(server.port, '/sendfile.php?f=1g', rate);
      if (r.status !== 200) return `answered ${r.status}`;
      return r.bodyBytes >= bytes ? undefined : `only ${r.bodyBytes} of ${bytes} bytes arrived`;
    },
  },
];

async function main(): Promise<number> {
  installCleanup();
  const spec = ALL_SERVERS.find((s) => s.id === serverId);
  if (!spec)
    throw new Error(`MEMORY_SERVER: unknown ${serverId} (known: ${ALL_SERVERS.map((s) => s.id).join(', ')})`);
  const unknown = only?.filter((id) => !checks.some((check) => check.id === id));
  if (unknown?.length)
    throw new Error(
      `MEMORY_CHECKS: unknown ${unknown.join(', ')} (known: ${checks.map((c) => c.id).join(', ')})`,
    );
  const sendFile = !only || only.includes('send-file');
  if (sendFile) log(`writing a ${mib} MiB file for send-file`);
  log(`each check takes about ${Math.ceil(mib / rate)} s at most`);
  const site = await createSite({ bigFiles: sendFile ? [{ name: '1g.bin', bytes }] : [] });
  onInterrupt(site.remove);
  const php = await startPhp(4);
  let server: RunningServer;
  try {
    server = await startServer(spec, { site, php });
  } catch (err) {
    console.log(`${spec.id}: missing: ${(err as Error).message}`);
    await php.stop();
    await site.remove();
    return 1;
  }
  let failed = 0;
  try {
    // Warm every path once, so lazy set-up (modules, pools, caches) is not counted as growth.
    for (const w of workloads(site)) {
      const wrong = await probe(server, w, spec.kind);
      if (wrong) log(`warm-up ${w.id}: ${wrong}`);
    }
    await slowGet(server.port, '/stream.php?mib=4', 1000);
    await slowGzipGet(server.port, '/stream.php?text=1&mib=4', 1000);
    console.log(`${spec.label}: RSS growth per ${mib} MiB transfer (limit ${limit} MiB)`);
    for (const check of checks) {
      if (only && !only.includes(check.id)) continue;
      const rss = sampleRss(server.pid);
      const before = rss.now();
      const began = Date.now();
      let wrong: string | undefined;
      try {
        wrong = await check.run(server);
      } catch (err) {
        wrong = (err as Error).message;
      }
      const peak = rss.stop();
      const growth = peak.totalMiB - before;
      const seconds = ((Date.now() - began) / 1000).toFixed(1);
      const verdict = wrong ? 'FAIL' : growth < limit ? 'PASS' : 'FAIL';
      if (verdict === 'FAIL') failed++;
      console.log(
        `${verdict}  ${check.name}: +${growth.toFixed(1)} MiB (${before.toFixed(1)} → peak ${peak.totalMiB.toFixed(1)} MiB) in ${seconds} s${wrong ? `; ${wrong}` : ''}`,
      );
    }
  } finally {
    await server.stop();
    await php.stop();
    await stopAll();
    await site.remove();
  }
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  async (err) => {
    console.error(`memory: ${(err as Error).stack ?? err}`);
    await stopAll();
    process.exit(1);
  },
);
