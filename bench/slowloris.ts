// The slowloris check (not part of npm test): `node --import tsx bench/slowloris.ts`.
// For each server (koa-lighty, lighttpd; the bench configs, lighttpd's default limits), wrk
// asks for the 1 KiB static file twice: once alone, then while SLOWLORIS_CONNECTIONS other
// connections each hold a request head open and send one more byte of it every
// SLOWLORIS_INTERVAL seconds (inside every idle limit, so no server may close them). It prints,
// per server, requests/s and latency of the normal clients in both runs, their errors, and how
// many slow connections the server still held at the end. PASS when the normal clients got all
// their answers under the slow ones, and at least half the requests/s they got alone.
// Settings: SLOWLORIS_CONNECTIONS=1000 (below lighttpd's default server.max-connections,
// 1365: past it every server that caps connections makes new clients wait),
// SLOWLORIS_INTERVAL=3, SLOWLORIS_SECONDS=5 (each wrk run), SLOWLORIS_SERVERS=koa-lighty,lighttpd.
// Exit code 1 when a check fails or cannot run.
import { connect, type Socket } from 'node:net';
import { runWrk, type WrkResult } from './lib/load.js';
import { installCleanup, onInterrupt, sleep, stopAll } from './lib/proc.js';
import { ALL_SERVERS, startServer } from './lib/servers.js';
import { createSite, startPhp } from './lib/site.js';

const env = process.env;
const slowCount = Number(env.SLOWLORIS_CONNECTIONS ?? 1000);
const intervalS = Number(env.SLOWLORIS_INTERVAL ?? 3);
const seconds = Number(env.SLOWLORIS_SECONDS ?? 5);
const serverIds = (env.SLOWLORIS_SERVERS ?? 'koa-lighty,lighttpd').split(',');
const log = (line: string) => console.error(`slowloris: ${line}`);

interface Slow {
  sockets: Socket[];
  /** Connections the server closed or refused. */
  lost(): number;
  stop(): void;
}

/** Opens `count` connections that each send a request head, one byte every `intervalS` seconds. */
async function slowClients(port: number, count: number): Promise<Slow> {
  const sockets: Socket[] = [];
  let lost = 0;
  for (let i = 0; i < count; i++) {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    socket.once('close', () => lost++);
    socket.write('GET /static/1k.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
    sockets.push(socket);
    // Not all in one burst: a real attack trickles in too, and the backlog stays small.
    if (i % 100 === 99) await sleep(20);
  }
  const timer = setInterval(() => {
    for (const socket of sockets) if (!socket.destroyed) socket.write('a');
  }, intervalS * 1000);
  return {
    sockets,
    lost: () => lost,
    stop() {
      clearInterval(timer);
      for (const socket of sockets) socket.destroy();
    },
  };
}

const show = (r: WrkResult) =>
  `${Math.round(r.rps)} req/s, p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms, ${r.errors} errors`;

async function main(): Promise<number> {
  installCleanup();
  const site = await createSite();
  onInterrupt(site.remove);
  const php = await startPhp(2);
  let failed = false;
  const rows: string[] = [];
  try {
    for (const id of serverIds) {
      const spec = ALL_SERVERS.find((s) => s.id === id);
      if (!spec) throw new Error(`unknown server ${id}`);
      const server = await startServer(spec, { site, php });
      try {
        const url = `http://127.0.0.1:${server.port}/static/1k.bin`;
        const wrk = { threads: 2, connections: 8, seconds };
        const alone = await runWrk(url, wrk);
        const slow = await slowClients(server.port, slowCount);
        // One trickled byte on every slow connection before the measurement starts.
        await sleep(intervalS * 1000 + 500);
        const under = await runWrk(url, wrk);
        const held = slowCount - slow.lost();
        slow.stop();
        const ok = under.errors === 0 && under.requests > 0 && under.rps >= alone.rps / 2;
        failed ||= !ok;
        log(`${spec.label}: alone ${show(alone)}`);
        log(`${spec.label}: with ${slowCount} slow connections (${held} held at the end) ${show(under)}`);
        rows.push(
          `| ${spec.label} | ${show(alone)} | ${show(under)} | ${held} / ${slowCount} | ${ok ? 'PASS' : 'FAIL'} |`,
        );
      } finally {
        await server.stop();
      }
    }
  } finally {
    await php.stop();
    await site.remove();
    await stopAll();
  }
  console.log(
    [
      `Slowloris: ${slowCount} connections sending a byte of their head every ${intervalS} s; wrk -t2 -c8 -d${seconds}s on /static/1k.bin.`,
      '',
      '| server | normal clients alone | with the slow connections | slow ones held | |',
      '| --- | --- | --- | --- | --- |',
      ...rows,
    ].join('\n'),
  );
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    log(error.message);
    process.exit(1);
  },
);
