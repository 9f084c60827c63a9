// `npm run bench`: koa-lighty against Debian's lighttpd and nginx, all in front of one php-cgi
// pool, over the same files, driven by the same wrk, alternating the servers round by round.
// Settings (environment):
//   BENCH_ROUNDS=3  BENCH_SECONDS=5  BENCH_WARMUP=2  BENCH_CONNECTIONS=32  BENCH_THREADS=2
//   BENCH_UPLOADS=6   100 MiB uploads per server and round (2 at a time)
//   BENCH_QUICK=1     1 round, 2 s, 1 s warm-up, 2 uploads: to see that everything works
//   BENCH_SERVERS=koa-lighty,koa-lighty-w2,lighttpd,nginx   BENCH_WORKLOADS=hello,static-1k,https-hello,h2-static-1k,...
//   BENCH_PROFILE=1   koa-lighty runs with --cpu-prof into bench/results/profiles
// Writes bench/results/<date>.md (the tables, also printed), <date>.svg (the chart) and
// bench/results/raw/<date-time>.json (every sample and wrk's own output).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { probe, runH2load, runUploads, runWrk, targetOf, UPLOAD_BYTES, workloads } from './lib/load.js';
import { installCleanup, onInterrupt, type RssPeak, sampleRss, stopAll } from './lib/proc.js';
import { loadAverage, machineInfo, type Results, renderMarkdown, renderSvg } from './lib/report.js';
import { ALL_SERVERS, type RunningServer, startServer } from './lib/servers.js';
import { BENCH_DIR, createSite, startPhp } from './lib/site.js';

const env = process.env;
const quick = env.BENCH_QUICK === '1';
const num = (name: string, fallback: number, quickValue: number) => {
  const raw = env[name];
  if (raw === undefined || raw === '') return quick ? quickValue : fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, not ${raw}`);
  return n;
};
const settings = {
  rounds: num('BENCH_ROUNDS', 3, 1),
  seconds: num('BENCH_SECONDS', 5, 2),
  warmup: num('BENCH_WARMUP', 2, 1),
  connections: num('BENCH_CONNECTIONS', 32, 32),
  threads: num('BENCH_THREADS', 2, 2),
  uploads: num('BENCH_UPLOADS', 6, 2),
};
const pick = <T extends { id: string }>(all: T[], list: string | undefined, what: string): T[] => {
  if (!list) return all;
  const ids = list.split(',').map((s) => s.trim());
  for (const id of ids)
    if (!all.some((x) => x.id === id))
      throw new Error(`${what}: unknown ${id} (known: ${all.map((x) => x.id).join(', ')})`);
  return all.filter((x) => ids.includes(x.id));
};
const profileDir = env.BENCH_PROFILE === '1' ? join(BENCH_DIR, 'results', 'profiles') : undefined;
const log = (line: string) => console.error(`bench: ${line}`);

async function main(): Promise<void> {
  installCleanup();
  const servers = pick(ALL_SERVERS, env.BENCH_SERVERS, 'BENCH_SERVERS');
  const site = await createSite();
  onInterrupt(site.remove);
  const allWorkloads = workloads(site);
  const chosen = pick(allWorkloads, env.BENCH_WORKLOADS, 'BENCH_WORKLOADS');
  const startedAt = new Date();
  const results: Results = {
    startedAt: startedAt.toISOString(),
    settings: { ...settings, quick: quick ? 1 : 0, profile: profileDir ? 1 : 0 },
    machine: await machineInfo(),
    servers,
    workloads: chosen,
    missing: {},
    idleRssMiB: {},
    startFailures: [],
    cells: {},
  };
  const raw: unknown[] = [];
  const started = new Set<string>();
  const perServer = chosen.reduce(
    (t, w) => t + (w.driver !== 'upload' ? settings.warmup + settings.seconds + 0.5 : 4),
    0,
  );
  log(
    `${settings.rounds} round(s) × ${servers.length} servers × ${chosen.length} workloads: ` +
      `about ${Math.ceil((settings.rounds * servers.length * perServer) / 60)} min`,
  );
  const php = await startPhp(4);
  log(`php-cgi pool on 127.0.0.1:${php.port} (pid ${php.proc.pid}, 4 children)`);
  if (profileDir) log(`BENCH_PROFILE=1: koa-lighty writes CPU profiles to ${profileDir}`);
  try {
    for (let round = 0; round < settings.rounds; round++) {
      // Rotate the order each round, so no server always runs first (or right after another).
      const order = servers.map((_, i) => servers[(i + round) % servers.length]!);
      for (const spec of order) {
        let server: RunningServer;
        try {
          server = await startServer(spec, { site, php, cpuProfDir: profileDir });
        } catch (err) {
          const why = (err as Error).message;
          log(`round ${round + 1}: ${spec.id}: missing: ${why}`);
          if (started.has(spec.id)) results.startFailures.push(`round ${round + 1}: ${spec.id}: ${why}`);
          else results.missing[spec.id] ??= why;
          continue;
        }
        started.add(spec.id);
        delete results.missing[spec.id];
        const idle = sampleRss(server.pid).stop().totalMiB;
        results.idleRssMiB[spec.id] ??= Math.round(idle * 10) / 10;
        log(
          `round ${round + 1}/${settings.rounds}: ${spec.label} on port ${server.port} (pid ${server.pid})`,
        );
        try {
          for (const w of chosen) {
            results.cells[w.id] ??= {};
            const cells = results.cells[w.id]!;
            cells[spec.id] ??= { samples: [], failures: [] };
            const cell = cells[spec.id]!;
            const wrong = await probe(server, w, spec.kind);
            if (wrong) {
              log(`  ${w.id}: failed: ${wrong}`);
              cell.failures.push(wrong);
              continue;
            }
            const { url } = targetOf(server, w, spec.kind);
            const rss = sampleRss(server.pid);
            /** One round's sample of this cell, and everything measured in the raw log. */
            const record = (rate: number, r: { p99Ms: number; errors: number }, peak: RssPeak) => {
              cell.samples.push({
                rate,
                p99Ms: r.p99Ms,
                errors: r.errors,
                rssMiB: peak.totalMiB,
                rssLargestMiB: peak.largestMiB,
              });
              raw.push({ round, server: spec.id, workload: w.id, ...r, rss: peak });
            };
            try {
              if (w.driver === 'wrk' || w.driver === 'h2load') {
                const run = w.driver === 'wrk' ? runWrk : runH2load;
                await run(url, { ...settings, seconds: settings.warmup, headers: w.headers });
                const r = await run(url, { ...settings, headers: w.headers });
                const peak = rss.stop();
                record(r.rps, r, peak);
                log(
                  `  ${w.id}: ${Math.round(r.rps)} req/s, p99 ${r.p99Ms.toFixed(2)} ms, ` +
                    `${r.errors} errors, peak RSS ${peak.totalMiB.toFixed(1)} MiB`,
                );
              } else {
                const r = await runUploads(server.port, w.path(spec.kind), {
                  count: settings.uploads,
                  concurrency: 2,
                  bytes: UPLOAD_BYTES,
                });
                const peak = rss.stop();
                if (r.uploads === 0) throw new Error(`every upload failed: ${r.firstError}`);
                record(r.mibPerSec, r, peak);
                log(
                  `  ${w.id}: ${r.mibPerSec.toFixed(0)} MiB/s, ${r.secondsEach.toFixed(2)} s each, ` +
                    `${r.errors} errors${r.firstError ? ` (${r.firstError})` : ''}, peak RSS ${peak.totalMiB.toFixed(1)} MiB`,
                );
              }
            } catch (err) {
              rss.stop();
              const why = (err as Error).message;
              log(`  ${w.id}: failed: ${why}`);
              cell.failures.push(why);
            }
          }
        } finally {
          await server.stop();
        }
        // What the server printed (warnings, errors), for whoever reads the raw file.
        if (server.proc.output()) raw.push({ round, server: spec.id, output: server.proc.output() });
      }
    }
  } finally {
    await php.stop();
    await stopAll();
    await site.remove();
  }

  results.machine.loadEnd = loadAverage();
  const markdown = renderMarkdown(results);
  const day = results.startedAt.slice(0, 10);
  const name = quick ? `${day}-quick` : day;
  const dir = join(BENCH_DIR, 'results');
  await mkdir(join(dir, 'raw'), { recursive: true });
  await writeFile(join(dir, `${name}.md`), `${markdown}\n`);
  await writeFile(join(dir, `${name}.svg`), renderSvg(results));
  const stamp = results.startedAt.replace(/[:.]/g, '-');
  await writeFile(join(dir, 'raw', `${stamp}.json`), `${JSON.stringify({ results, raw }, null, 2)}\n`);
  console.log(markdown);
  log(`wrote bench/results/${name}.md, bench/results/${name}.svg and bench/results/raw/${stamp}.json`);
}

main().catch(async (err) => {
  console.error(`bench: ${(err as Error).stack ?? err}`);
  await stopAll();
  process.exit(1);
});
