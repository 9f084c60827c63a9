/**
 * status.metrics-url: the status figures in Prometheus's text exposition format 0.0.4
 * (`# HELP`, `# TYPE`, then `name{label="value"} number` lines; label values escape `\`, `"`
 * and newlines). Written here rather than with prom-client: the figures already exist and
 * are read at scrape time, so there is nothing to register or update per request.
 */
import { LATENCY_BOUNDS_MS } from './histogram.js';
import type { StatusSnapshot } from './snapshot.js';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

type Labels = Record<string, string | number>;

class Exposition {
  readonly #lines: string[] = [];

  family(name: string, type: 'counter' | 'gauge' | 'histogram', help: string): void {
    this.#lines.push(
      `# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`,
      `# TYPE ${name} ${type}`,
    );
  }

  sample(name: string, value: number, labels: Labels = {}): void {
    const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(String(v))}"`);
    this.#lines.push(`${name}${pairs.length ? `{${pairs.join(',')}}` : ''} ${formatValue(value)}`);
  }

  text(): string {
    return `${this.#lines.join('\n')}\n`;
  }
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

export function prometheusText(s: StatusSnapshot): string {
  const m = new Exposition();
  const w: Labels = s.worker ? { worker: s.worker.index + 1 } : {};
  if (s.worker) {
    m.family(
      'koa_lighty_worker_info',
      'gauge',
      "This process is worker N of M (--workers); every figure is this worker's own.",
    );
    m.sample('koa_lighty_worker_info', 1, { worker: s.worker.index + 1, workers: s.worker.count });
  }
  m.family('koa_lighty_uptime_seconds', 'gauge', 'Seconds since the server started.');
  m.sample('koa_lighty_uptime_seconds', s.uptime, w);
  m.family('koa_lighty_requests_total', 'counter', 'Requests answered since start.');
  m.sample('koa_lighty_requests_total', s.requests.total, w);
  m.family('koa_lighty_sent_bytes_total', 'counter', 'Bytes written to clients since start.');
  m.sample('koa_lighty_sent_bytes_total', s.requests.bytesOut, w);
  m.family('koa_lighty_requests_per_second', 'gauge', 'Requests per second over the last 5 s.');
  m.sample('koa_lighty_requests_per_second', s.requests.perSecond5s, w);
  m.family(
    'koa_lighty_connections',
    'gauge',
    'Client connections open, by state (lighttpd BusyServers = open).',
  );
  m.sample('koa_lighty_connections', s.connections.active, { ...w, state: 'handle-req' });
  m.sample('koa_lighty_connections', s.connections.open - s.connections.active, {
    ...w,
    state: 'keep-alive',
  });
  m.family('koa_lighty_connections_limit', 'gauge', 'server.max-connections in force.');
  m.sample('koa_lighty_connections_limit', s.connections.limit, w);

  m.family(
    'koa_lighty_request_duration_seconds',
    'histogram',
    'Time from request to the end of its response.',
  );
  s.latencyMs.buckets.forEach((bucket, i) => {
    const le = LATENCY_BOUNDS_MS[i] === undefined ? '+Inf' : String(LATENCY_BOUNDS_MS[i]! / 1000);
    m.sample('koa_lighty_request_duration_seconds_bucket', bucket.count, { ...w, le });
  });
  m.sample('koa_lighty_request_duration_seconds_sum', s.latencyMs.sum / 1000, w);
  m.sample('koa_lighty_request_duration_seconds_count', s.latencyMs.count, w);

  const procs = s.fastcgi.flatMap(({ key, hosts }) =>
    hosts.flatMap((host) =>
      host.processes.map((p) => ({ p, labels: { ...w, key, host: host.label, process: p.index } })),
    ),
  );
  const gauge = (
    name: string,
    help: string,
    value: (p: (typeof procs)[number]['p']) => number | undefined,
    type: 'gauge' | 'counter' = 'gauge',
  ) => {
    const rows = procs.map(({ p, labels }) => [value(p), labels] as const).filter(([v]) => v !== undefined);
    if (rows.length === 0) return;
    m.family(name, type, help);
    for (const [v, labels] of rows) m.sample(name, v!, labels);
  };
  gauge(
    'koa_lighty_fastcgi_connections',
    'Connections open to the FastCGI process, idle ones included.',
    (p) => p.connections,
  );
  gauge('koa_lighty_fastcgi_busy_connections', 'Connections serving a request.', (p) => p.busy);
  gauge('koa_lighty_fastcgi_idle_connections', 'Kept connections waiting for a request.', (p) => p.idle);
  gauge('koa_lighty_fastcgi_queued_requests', 'Requests waiting for a connection.', (p) => p.queued);
  gauge('koa_lighty_fastcgi_max_conns', 'FCGI_MAX_CONNS: the connection limit in force.', (p) => p.maxConns);
  gauge('koa_lighty_fastcgi_connects_total', 'Connections opened since start.', (p) => p.connects, 'counter');
  gauge(
    'koa_lighty_fastcgi_disables_total',
    'Times the process was disabled after a failed connect.',
    (p) => p.disables,
    'counter',
  );
  gauge(
    'koa_lighty_fastcgi_disabled_until_seconds',
    'Unix time until which the process is disabled (0: not disabled).',
    (p) => (p.disabledUntil === null ? 0 : p.disabledUntil / 1000),
  );
  gauge(
    'koa_lighty_fastcgi_last_error_seconds',
    'Unix time of the last request that failed on the backend (0: none).',
    (p) => (p.lastError ? p.lastError.at / 1000 : 0),
  );
  gauge('koa_lighty_php_cgi_up', 'Whether the spawned program (bin-path) runs.', (p) =>
    p.spawned ? (p.spawned.running ? 1 : 0) : undefined,
  );
  gauge(
    'koa_lighty_php_cgi_respawns_total',
    'Times the spawned program was started again.',
    (p) => p.spawned?.respawns,
    'counter',
  );

  if (s.triggerStores.length) {
    const store = (i: number, name: string) => ({ ...w, store: name, index: i });
    m.family('koa_lighty_trigger_store_up', 'gauge', 'Whether the last call to the trigger store worked.');
    s.triggerStores.forEach((st, i) => {
      m.sample('koa_lighty_trigger_store_up', st.up ? 1 : 0, store(i, st.name));
    });
    m.family(
      'koa_lighty_trigger_store_outages_total',
      'counter',
      'Outages of the trigger store since start (the last 20 are kept).',
    );
    s.triggerStores.forEach((st, i) => {
      m.sample('koa_lighty_trigger_store_outages_total', st.outages.length, store(i, st.name));
    });
    m.family(
      'koa_lighty_trigger_requests_total',
      'counter',
      'Trigger pages, downloads let through and downloads denied.',
    );
    s.triggerStores.forEach((st, i) => {
      m.sample('koa_lighty_trigger_requests_total', st.triggers, { ...store(i, st.name), result: 'trigger' });
      m.sample('koa_lighty_trigger_requests_total', st.allowed, { ...store(i, st.name), result: 'allowed' });
      m.sample('koa_lighty_trigger_requests_total', st.denied, { ...store(i, st.name), result: 'denied' });
    });
  }
  if (s.secdownload) {
    m.family(
      'koa_lighty_secdownload_links_total',
      'counter',
      'secdownload links by answer: 403 wrong MAC, 410 expired, valid.',
    );
    m.sample('koa_lighty_secdownload_links_total', s.secdownload.forbidden, { ...w, result: '403' });
    m.sample('koa_lighty_secdownload_links_total', s.secdownload.gone, { ...w, result: '410' });
    m.sample('koa_lighty_secdownload_links_total', s.secdownload.valid, { ...w, result: 'valid' });
  }
  return m.text();
}
