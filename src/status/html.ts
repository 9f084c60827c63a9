/**
 * The status page: lighttpd's sections first (the same headings, rows and connection table),
 * then koa-lighty's own (FastCGI, latency, trigger stores, secdownload). The page script
 * (page-script.ts, loaded from `<status-url>?script` so that a Content-Security-Policy of
 * `script-src 'self'` allows it) fetches `?json` every few seconds and redraws the numbers in
 * place, without reloading; it also sorts the connection table when status.enable-sort is on.
 */
import type { ConnectionView, StatusRegistry } from './registry.js';
import type { StatusSnapshot } from './snapshot.js';

export interface PageOptions {
  serverTag: string;
  /** The Host the request named (lighttpd's Hostname row). */
  hostname: string;
  sort: boolean;
  /** Where the page script and `?json` are: the status URL itself. */
  statusUrl: string;
  /** `refresh=N`: lighttpd's meta refresh, kept for people who use it. */
  refresh?: number;
}

/**
 * lighttpd's look, plus the colours of our store states. Served at `<status-url>?style`
 * rather than inline, as the script is: a CSP without 'unsafe-inline' would drop it.
 */
export const PAGE_STYLE = `table.status { border: black solid thin; }
td { white-space: nowrap; }
td.int { background-color: #f0f0f0; text-align: right }
td.string { background-color: #f0f0f0; text-align: left }
td.count { text-align: right }
th.status { background-color: black; color: white; font-weight: bold; }
a.sortheader { background-color: black; color: white; font-weight: bold; text-decoration: none; display: block; }
span.sortarrow { color: white; text-decoration: none; }
td.down { background-color: #f4c0c0; }
td.up { background-color: #c8ecc8; }
`;

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** lighttpd's 1000- or 1024-step units: `4  req`, `3.13 kbyte`. */
export function scaled(value: number, step: 1000 | 1024): string {
  let unit = ' ';
  for (const next of 'kMGTPEZY') {
    if (value <= step) break;
    value /= step;
    unit = next;
  }
  return `${step === 1000 ? Math.floor(value) : value.toFixed(2)} ${unit}`;
}

function uptimeText(seconds: number): string {
  const parts: string[] = [];
  const days = Math.floor(seconds / 86400);
  const hours = Math.floor((seconds % 86400) / 3600);
  const mins = Math.floor((seconds % 3600) / 60);
  if (days) parts.push(`${days} days`);
  if (hours) parts.push(`${hours} hours`);
  if (mins) parts.push(`${mins} min`);
  parts.push(`${seconds % 60} s`);
  return parts.join(' ');
}

function localStamp(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

const row = (name: string, value: string, id?: string) =>
  `<tr><td>${name}</td><td class="string"${id ? ` id="${id}"` : ''}>${value}</td></tr>\n`;

export function statusPage(registry: StatusRegistry, s: StatusSnapshot, o: PageOptions): string {
  const since = Math.max(1, s.uptime);
  const script = `${escapeHtml(o.statusUrl)}?script`;
  const head =
    '<?xml version="1.0" encoding="iso-8859-1"?>\n' +
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"\n' +
    '         "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n' +
    '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">\n' +
    ' <head>\n  <title>Status</title>\n' +
    `  <link rel="stylesheet" type="text/css" href="${escapeHtml(o.statusUrl)}?style" />\n` +
    (o.refresh ? `<meta http-equiv="refresh" content="${Math.min(o.refresh, 604800)}">\n` : '') +
    `<script type="text/javascript" src="${script}" defer="defer"></script>\n` +
    ' </head>\n<body>\n';
  const board = s.connections.scoreboard;
  const keepAlive = s.connections.open - s.connections.active;
  const summary =
    `<h1>Server-Status (${escapeHtml(o.serverTag)})</h1>` +
    '<table summary="status" class="status">' +
    row('Hostname', escapeHtml(o.hostname)) +
    row('Uptime', uptimeText(s.uptime), 'kl-uptime') +
    row('Started at', localStamp(s.startedAt)) +
    '<tr><th colspan="2">absolute (since start)</th></tr>\n' +
    row('Requests', `${scaled(s.requests.total, 1000)}req`, 'kl-requests') +
    row('Traffic', `${scaled(s.requests.bytesOut, 1024)}byte`, 'kl-traffic') +
    '<tr><th colspan="2">average (since start)</th></tr>\n' +
    row('Requests', `${scaled(s.requests.total / since, 1000)}req/s`) +
    row('Traffic', `${scaled(s.requests.bytesOut / since, 1024)}byte/s`) +
    '<tr><th colspan="2">average (5s sliding average)</th></tr>\n' +
    row('Requests', `${scaled(s.requests.perSecond5s, 1000)}req/s`, 'kl-rate') +
    row('Traffic', `${scaled(s.requests.bytesPerSecond5s, 1024)}byte/s`, 'kl-traffic-rate') +
    '</table>\n<hr />\n<pre>\n' +
    `<b id="kl-connections">${s.connections.open} connections</b>\n` +
    `<span id="kl-scoreboard">${board.replace(/(.{50})/g, '$1\n')}</span>\n\n<table>\n` +
    `<tr><td class="count">${keepAlive}</td><td>&nbsp;&nbsp;k = keep-alive</td></tr>\n` +
    `<tr><td class="count">${s.connections.active}</td><td>&nbsp;&nbsp;h = handle-req</td></tr>\n` +
    '</table>\n</pre><hr />\n';
  const header = (name: string) =>
    o.sort
      ? `<th class="status"><a href="#" class="sortheader">${name}<span class="sortarrow">:</span></a></th>\n`
      : `<th class="status">${name}</th>\n`;
  const connections =
    '<h2>Connections</h2>\n<table summary="status" class="status" id="kl-connection-table">\n<tr>' +
    ['Client IP', 'Read', 'Written', 'State', 'Time', 'Host', 'URI', 'File'].map(header).join('') +
    '</tr>\n' +
    registry.connectionViews().map(connectionRow).join('') +
    '</table>\n';
  return `${head}${summary}${connections}${ours(s)}</body>\n</html>\n`;
}

function connectionRow(c: ConnectionView): string {
  const r = c.request;
  const cell = (kind: 'int' | 'string', text: string | number) =>
    `<td class="${kind}">${escapeHtml(String(text))}</td>`;
  return (
    '<tr>' +
    cell('string', c.remoteAddress) +
    cell('int', `${c.bytesRead}`) +
    cell('int', `${c.bytesWritten}`) +
    cell('string', r ? 'handle-req' : 'keep-alive') +
    cell('int', r ? r.seconds : 0) +
    cell('string', r?.host ?? '') +
    cell('string', r ? r.url : '') +
    cell('string', '') +
    '</tr>\n'
  );
}

/** koa-lighty's sections. Each figure has an id (or a row of a table with one) the script redraws. */
function ours(s: StatusSnapshot): string {
  const worker = s.worker
    ? `<p id="kl-worker">worker ${s.worker.index + 1} of ${s.worker.count}: every figure on this page is this worker's own (each --workers process counts for itself; reload to see another).</p>\n`
    : '';
  return (
    '<hr />\n<div id="koa-lighty">\n<h2>koa-lighty</h2>\n' +
    worker +
    `<table summary="koa-lighty" class="status" id="kl-summary">\n${summaryRows(s)}</table>\n` +
    '<h3>FastCGI backends</h3>\n' +
    `<table summary="fastcgi" class="status" id="kl-fastcgi">\n${fastcgiRows(s)}</table>\n` +
    '<h3>Trigger stores</h3>\n' +
    `<table summary="trigger stores" class="status" id="kl-stores">\n${storeRows(s)}</table>\n` +
    '<h3>secdownload</h3>\n' +
    `<table summary="secdownload" class="status" id="kl-secdownload">\n${secdownloadRows(s)}</table>\n` +
    `<p id="kl-updated">as of ${localStamp(s.now)}</p>\n</div>\n`
  );
}

// The row builders below are mirrored by page-script.ts, which redraws the same tables from ?json.
export function summaryRows(s: StatusSnapshot): string {
  const ms = (v: number | null) => (v === null ? '-' : `&le; ${v} ms`);
  return (
    row('Requests/s (5 s)', String(s.requests.perSecond5s)) +
    row('Latency p50', ms(s.latencyMs.p50)) +
    row('Latency p90', ms(s.latencyMs.p90)) +
    row('Latency p99', ms(s.latencyMs.p99))
  );
}

const FASTCGI_HEADINGS = [
  'Key',
  'Host',
  'Process',
  'Open',
  'Busy',
  'Idle',
  'Queued',
  'FCGI_MAX_CONNS',
  'Disabled until',
  'Last error',
  'php-cgi',
  'Respawns',
];

export function fastcgiRows(s: StatusSnapshot): string {
  const th = `<tr>${FASTCGI_HEADINGS.map((h) => `<th class="status">${h}</th>`).join('')}</tr>\n`;
  const rows = s.fastcgi.flatMap(({ key, hosts }) =>
    hosts.flatMap((host) =>
      host.processes.map((p) => {
        const cells = [
          key,
          host.label,
          `${p.index} (${p.address})`,
          p.connections,
          p.busy,
          p.idle,
          p.queued,
          p.maxConns,
          p.disabledUntil === null ? '-' : localStamp(p.disabledUntil),
          p.lastError ? `${localStamp(p.lastError.at)} ${p.lastError.message}` : '-',
          p.spawned
            ? p.spawned.running
              ? `pid ${p.spawned.pid}, ${p.spawned.children} children`
              : 'not running'
            : 'not spawned here',
          p.spawned ? p.spawned.respawns : '-',
        ];
        return `<tr>${cells.map((c) => `<td class="${typeof c === 'number' ? 'int' : 'string'}">${escapeHtml(String(c))}</td>`).join('')}</tr>\n`;
      }),
    ),
  );
  return th + (rows.length ? rows.join('') : '<tr><td colspan="12">no fastcgi.server</td></tr>\n');
}

export function storeRows(s: StatusSnapshot): string {
  const th =
    '<tr><th class="status">Store</th><th class="status">State</th><th class="status">Triggers</th><th class="status">Allowed</th><th class="status">Denied</th><th class="status">Outages</th></tr>\n';
  const rows = s.triggerStores.map((store) => {
    const outages = store.outages.length
      ? store.outages
          .map(
            (o) =>
              `${localStamp(o.from)} to ${o.to === null ? 'now' : localStamp(o.to)}: ${o.failures} failed (${o.reason})`,
          )
          .join('; ')
      : 'none';
    return (
      `<tr><td class="string">${escapeHtml(store.name)}</td><td class="string ${store.up ? 'up' : 'down'}">${store.up ? 'up' : 'down'}</td>` +
      `<td class="int">${store.triggers}</td><td class="int">${store.allowed}</td><td class="int">${store.denied}</td>` +
      `<td class="string">${escapeHtml(outages)}</td></tr>\n`
    );
  });
  return th + (rows.length ? rows.join('') : '<tr><td colspan="6">no trigger-before-download</td></tr>\n');
}

export function secdownloadRows(s: StatusSnapshot): string {
  if (!s.secdownload) return '<tr><td>no secdownload</td></tr>\n';
  return (
    `<tr><td>403 (wrong MAC)</td><td class="int">${s.secdownload.forbidden}</td></tr>\n` +
    `<tr><td>410 (expired)</td><td class="int">${s.secdownload.gone}</td></tr>\n` +
    `<tr><td>valid links</td><td class="int">${s.secdownload.valid}</td></tr>\n`
  );
}
