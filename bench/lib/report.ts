import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import type { Workload } from './load.js';
import { capture } from './proc.js';
import type { ServerSpec } from './servers.js';
import { ROOT } from './site.js';

/** One measured round of one server under one workload. */
export interface Sample {
  /** requests/s (wrk) or MiB/s (upload). */
  rate: number;
  p99Ms: number;
  errors: number;
  rssMiB: number;
  rssLargestMiB: number;
}

export interface Cell {
  samples: Sample[];
  /** Why a round could not be measured (probe or load generator failure). */
  failures: string[];
}

export interface Results {
  startedAt: string;
  settings: Record<string, string | number>;
  machine: Record<string, string>;
  servers: ServerSpec[];
  workloads: Workload[];
  /** serverId -> why it could not be started (kept when it never started in any round). */
  missing: Record<string, string>;
  /** serverId -> RSS right after start, MiB (first round). */
  idleRssMiB: Record<string, number>;
  /** A server that started in some round but not in this one. */
  startFailures: string[];
  /** workloadId -> serverId -> cell. */
  cells: Record<string, Record<string, Cell>>;
}

export async function machineInfo(): Promise<Record<string, string>> {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? 'unknown';
  const firstLine = (s: string) => s.trim().split('\n')[0] ?? '';
  const pkg = JSON.parse(readFileSync(`${ROOT}/package.json`, 'utf8')) as { version: string };
  const commit = firstLine(await capture('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']));
  const dirty = (await capture('git', ['-C', ROOT, 'status', '--porcelain', '--', 'src'])).trim()
    ? ' + uncommitted src/'
    : '';
  return {
    cpu: model,
    cores: String(cpus().length),
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    kernel: firstLine(await capture('uname', ['-sr'])),
    node: process.version,
    'koa-lighty': `${pkg.version} (${commit}${dirty})`,
    lighttpd: firstLine(await capture('/usr/sbin/lighttpd', ['-v'])),
    nginx: firstLine(await capture('/usr/sbin/nginx', ['-v'])),
    php: firstLine(await capture('php-cgi', ['-v'])),
    wrk: firstLine(await capture('wrk', ['-v'])).replace(/\s+Copyright.*/, ''),
    h2load: firstLine(await capture('h2load', ['--version'])),
    loadStart: loadAverage(),
  };
}

/** The 1-minute load average: how busy the machine was besides us. */
export function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ')[0] ?? '?';
}

export function median(values: number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

const fmtRate = (n: number, upload: boolean) =>
  !Number.isFinite(n) ? '—' : upload ? n.toFixed(0) : Math.round(n).toLocaleString('en-US');
const fmtMs = (n: number) => (!Number.isFinite(n) ? '—' : n < 10 ? n.toFixed(2) : n.toFixed(1));
const fmtMiB = (n: number) => (!Number.isFinite(n) ? '—' : n.toFixed(1));
const fmtRatio = (n: number) => (!Number.isFinite(n) ? '—' : `${n.toFixed(2)} ×`);

export function cellRate(results: Results, workloadId: string, serverId: string): number {
  const cell = results.cells[workloadId]?.[serverId];
  return cell ? median(cell.samples.map((s) => s.rate)) : Number.NaN;
}

/** The issue's targets, as ratios koa-lighty ÷ lighttpd in this run. */
const TARGETS: Record<string, number> = {
  hello: 1.1,
  'sendfile-1k': 0.7,
  'sendfile-1m': 0.8,
  secdownload: 0.5,
  'static-1k': 0.5,
};
const RSS_TARGET_MIB = 150;

export function renderMarkdown(results: Results): string {
  const out: string[] = [];
  const s = results.settings;
  out.push(`# koa-lighty benchmark, ${results.startedAt.slice(0, 10)}`, '');
  out.push(
    `Machine: ${results.machine.cpu}, ${results.machine.cores} cores, ${results.machine.memory}, ${results.machine.kernel}.`,
    '',
    '| software | version |',
    '| --- | --- |',
  );
  for (const key of ['node', 'koa-lighty', 'lighttpd', 'nginx', 'php', 'wrk', 'h2load'])
    out.push(`| ${key} | ${results.machine[key] ?? '—'} |`);
  out.push(
    '',
    `Settings: ${s.rounds} round(s), servers alternated in each; per server and workload a ` +
      `${s.warmup} s warm-up then \`wrk -t${s.threads} -c${s.connections} -d${s.seconds}s --latency\`; ` +
      `${s.uploads} uploads of 100 MiB, 2 at a time. One php-cgi pool (PHP_FCGI_CHILDREN=4) shared by ` +
      `all servers, which run one at a time. nginx runs a master and worker_processes auto ` +
      `(${results.machine.cores} workers here). Load generator and servers share the machine. ` +
      `Load average (1 min) at start ${results.machine.loadStart ?? '?'}, at end ${results.machine.loadEnd ?? '?'}: ` +
      'well above 0 means something else ran beside the benchmark and the numbers are noisier.',
    '',
    "Cells: median over rounds (min–max in parentheses). p99: median of the rounds' p99. Peak RSS: " +
      'the largest value seen during the load (warm-up included) over all rounds, summed over the ' +
      "server's processes (nginx master + workers, cluster primary + workers; php-cgi excluded), " +
      "and the largest single process after the slash. Ratios: koa-lighty's median ÷ the other's median.",
    '',
  );
  const missing = Object.entries(results.missing);
  if (missing.length) {
    out.push('**Missing servers** (could not be started; no numbers for them):', '');
    for (const [id, why] of missing) out.push(`- ${id}: missing: ${why}`);
    out.push('');
  }
  if (results.startFailures.length) {
    out.push('**Rounds a server could not start in** (its numbers come from the other rounds):', '');
    for (const line of results.startFailures) out.push(`- ${line}`);
    out.push('');
  }
  for (const w of results.workloads) {
    const upload = w.driver === 'upload';
    out.push(`## ${w.title}`, '', `${w.measures}.`, '');
    out.push(
      `| server | ${upload ? 'MiB/s' : 'requests/s'} | p99 ms${upload ? ' (per upload)' : ''} | peak RSS MiB (total / largest) | errors | ÷ lighttpd | ÷ nginx | note |`,
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    );
    const lighttpd = cellRate(results, w.id, 'lighttpd');
    const nginx = cellRate(results, w.id, 'nginx');
    for (const server of results.servers) {
      const cell = results.cells[w.id]?.[server.id];
      const note = w.note?.[server.kind] ?? '';
      if (!cell || cell.samples.length === 0) {
        const why = results.missing[server.id]
          ? `missing: ${results.missing[server.id]}`
          : cell?.failures[0]
            ? `failed: ${cell.failures[0]}`
            : 'not run';
        out.push(`| ${server.label} | — | — | — | — | — | — | ${escapeCell(why)} |`);
        continue;
      }
      const rates = cell.samples.map((x) => x.rate);
      const rate = median(rates);
      const range =
        rates.length > 1
          ? ` (${fmtRate(Math.min(...rates), upload)}–${fmtRate(Math.max(...rates), upload)})`
          : '';
      const rss = `${fmtMiB(Math.max(...cell.samples.map((x) => x.rssMiB)))} / ${fmtMiB(Math.max(...cell.samples.map((x) => x.rssLargestMiB)))}`;
      const errors = cell.samples.reduce((sum, x) => sum + x.errors, 0);
      const isKoa = server.kind === 'koa-lighty';
      const failed = cell.failures.length
        ? ` ${cell.failures.length} round(s) failed: ${cell.failures[0]}`
        : '';
      out.push(
        `| ${server.label} | ${fmtRate(rate, upload)}${range} | ${fmtMs(median(cell.samples.map((x) => x.p99Ms)))} | ${rss} | ${errors} | ${isKoa ? fmtRatio(rate / lighttpd) : ''} | ${isKoa ? fmtRatio(rate / nginx) : ''} | ${escapeCell(note + failed)} |`,
      );
    }
    out.push('');
  }
  out.push(...scalingSection(results), ...targetSection(results));
  return out.join('\n');
}

function scalingSection(results: Results): string[] {
  const ids = results.servers.map((s) => s.id);
  if (!ids.includes('koa-lighty') || !ids.includes('koa-lighty-w2')) return [];
  const out = [
    '## koa-lighty: 1 worker → 2 workers',
    '',
    '| workload | 1 worker | 2 workers | growth |',
    '| --- | ---: | ---: | ---: |',
  ];
  for (const w of results.workloads) {
    const upload = w.driver === 'upload';
    const one = cellRate(results, w.id, 'koa-lighty');
    const two = cellRate(results, w.id, 'koa-lighty-w2');
    out.push(`| ${w.title} | ${fmtRate(one, upload)} | ${fmtRate(two, upload)} | ${fmtRatio(two / one)} |`);
  }
  out.push('');
  return out;
}

function targetSection(results: Results): string[] {
  const out = [
    '## Targets (issue 7), in this run',
    '',
    '| target | measured | verdict |',
    '| --- | ---: | --- |',
  ];
  for (const w of results.workloads) {
    const target = TARGETS[w.id];
    if (target === undefined) continue;
    const ratio = cellRate(results, w.id, 'koa-lighty') / cellRate(results, w.id, 'lighttpd');
    const verdict = !Number.isFinite(ratio) ? 'not measured' : ratio >= target ? 'met' : 'NOT met';
    out.push(`| ${w.title}: koa-lighty ≥ ${target} × lighttpd | ${fmtRatio(ratio)} | ${verdict} |`);
  }
  for (const id of ['koa-lighty', 'koa-lighty-w2']) {
    if (!results.servers.some((s) => s.id === id)) continue;
    const peaks = results.workloads.flatMap(
      (w) => results.cells[w.id]?.[id]?.samples.map((x) => x.rssLargestMiB) ?? [],
    );
    const peak = peaks.length ? Math.max(...peaks) : Number.NaN;
    const verdict = !Number.isFinite(peak) ? 'not measured' : peak <= RSS_TARGET_MIB ? 'met' : 'NOT met';
    out.push(
      `| ${id}: peak RSS ≤ ${RSS_TARGET_MIB} MiB per process, every workload | ${fmtMiB(peak)} MiB | ${verdict} |`,
    );
  }
  out.push('');
  const idle = Object.entries(results.idleRssMiB);
  if (idle.length) {
    out.push(
      `Idle RSS right after start (MiB, all processes of the server): ${idle.map(([id, mib]) => `${id} ${fmtMiB(mib)}`).join(', ')}.`,
      '',
    );
  }
  return out;
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

const COLOURS: Record<string, string> = {
  'koa-lighty': '#2b7bb9',
  'koa-lighty-w2': '#7fb3dc',
  lighttpd: '#e08a1e',
  nginx: '#3a9d5d',
};

/** Small multiples: one panel per workload with its own scale, one bar per server. */
export function renderSvg(results: Results): string {
  const panelW = 300;
  const panelH = 230;
  const cols = 3;
  const top = 70;
  const rows = Math.ceil(results.workloads.length / cols);
  const width = cols * panelW + 20;
  const height = top + rows * panelH + 20;
  const esc = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="10" y="22" font-size="15" font-weight="bold">koa-lighty, lighttpd and nginx in front of php-cgi (${esc(results.startedAt.slice(0, 10))})</text>`,
    `<text x="10" y="40" fill="#555">${esc(`${results.machine.cpu}, ${results.machine.cores} cores; median of ${results.settings.rounds} round(s); higher is better; each panel has its own scale`)}</text>`,
  ];
  let legendX = 10;
  for (const server of results.servers) {
    parts.push(
      `<rect x="${legendX}" y="50" width="10" height="10" fill="${COLOURS[server.id] ?? '#888'}"/>`,
      `<text x="${legendX + 14}" y="59">${esc(server.label)}</text>`,
    );
    legendX += 14 + server.label.length * 6.5 + 16;
  }
  results.workloads.forEach((w, i) => {
    const x0 = 10 + (i % cols) * panelW;
    const y0 = top + Math.floor(i / cols) * panelH;
    const upload = w.driver === 'upload';
    const values = results.servers.map((s) => cellRate(results, w.id, s.id));
    const max = Math.max(1, ...values.filter(Number.isFinite));
    const plotTop = y0 + 54;
    const plotH = panelH - 92;
    const barW = (panelW - 40) / results.servers.length - 10;
    parts.push(
      `<text x="${x0 + 4}" y="${y0 + 18}" font-size="13" font-weight="bold">${esc(w.title)}</text>`,
      `<text x="${x0 + 4}" y="${y0 + 32}" fill="#555">${upload ? 'MiB/s' : 'requests/s'}${w.chartNote ? esc(` · ${w.chartNote}`) : ''}</text>`,
      `<line x1="${x0 + 4}" y1="${plotTop + plotH}" x2="${x0 + panelW - 20}" y2="${plotTop + plotH}" stroke="#999"/>`,
    );
    results.servers.forEach((server, j) => {
      const v = values[j]!;
      const bx = x0 + 10 + j * (barW + 10);
      if (!Number.isFinite(v)) {
        parts.push(
          `<text x="${bx + barW / 2}" y="${plotTop + plotH - 4}" text-anchor="middle" fill="#b00">${results.missing[server.id] ? 'missing' : 'n/a'}</text>`,
        );
        return;
      }
      const h = Math.max(1, (v / max) * plotH);
      parts.push(
        `<rect x="${bx}" y="${plotTop + plotH - h}" width="${barW}" height="${h}" fill="${COLOURS[server.id] ?? '#888'}"><title>${esc(`${server.label}: ${fmtRate(v, upload)}`)}</title></rect>`,
        `<text x="${bx + barW / 2}" y="${plotTop + plotH - h - 4}" text-anchor="middle">${esc(fmtRate(v, upload))}</text>`,
      );
    });
    const short = (s: ServerSpec) =>
      s.id === 'koa-lighty-w2' ? 'koa ×2' : s.id === 'koa-lighty' ? 'koa' : s.id;
    results.servers.forEach((server, j) => {
      const bx = x0 + 10 + j * (barW + 10);
      parts.push(
        `<text x="${bx + barW / 2}" y="${plotTop + plotH + 14}" text-anchor="middle" fill="#333">${esc(short(server))}</text>`,
      );
    });
  });
  parts.push('</svg>', '');
  return parts.join('\n');
}
