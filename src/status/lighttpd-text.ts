/**
 * mod_status's machine-readable answers in lighttpd 1.4.69's formats (seen on a running
 * lighttpd): `?auto`, `?json` (and `?jsonp=name`), and status.statistics-url. Ours come after
 * lighttpd's fields, under names lighttpd never uses, so that its parsers keep working.
 */
import type { StatusRegistry } from './registry.js';
import type { StatusSnapshot } from './snapshot.js';

/** `?auto`: lighttpd's six lines, then ours as `koa-lighty.<name>: <value>` lines. */
export function autoText(registry: StatusRegistry, s: StatusSnapshot): string {
  const lines = [
    `Total Accesses: ${s.requests.total}`,
    `Total kBytes: ${Math.floor(s.requests.bytesOut / 1024)}`,
    `Uptime: ${s.uptime}`,
    `BusyServers: ${s.connections.open}`,
    `IdleServers: ${Math.max(0, s.connections.limit - s.connections.open)}`,
    `Scoreboard: ${registry.scoreboard()}`,
    ...extraLines(s).map(([name, value]) => `koa-lighty.${name}: ${value}`),
  ];
  return `${lines.join('\n')}\n`;
}

/** Our figures as flat name/value pairs (the `?auto` tail). */
function extraLines(s: StatusSnapshot): [string, string | number][] {
  const out: [string, string | number][] = [];
  if (s.worker) out.push(['worker', `${s.worker.index + 1}/${s.worker.count}`]);
  out.push(['requests-per-second-5s', s.requests.perSecond5s]);
  for (const [q, v] of [
    ['p50', s.latencyMs.p50],
    ['p90', s.latencyMs.p90],
    ['p99', s.latencyMs.p99],
  ] as const)
    out.push([`latency-ms.${q}`, v ?? '']);
  for (const { key, hosts } of s.fastcgi) {
    for (const host of hosts) {
      for (const p of host.processes) {
        const at = `fastcgi.${key}.${host.label}.${p.index}`;
        out.push(
          [`${at}.connections`, p.connections],
          [`${at}.busy`, p.busy],
          [`${at}.idle`, p.idle],
          [`${at}.queued`, p.queued],
          [`${at}.max-conns`, p.maxConns],
          [`${at}.disabled-until`, p.disabledUntil === null ? 0 : Math.ceil(p.disabledUntil / 1000)],
          [`${at}.last-error`, p.lastError ? p.lastError.message.replace(/[\r\n]+/g, ' ') : ''],
        );
        if (p.spawned)
          out.push([`${at}.running`, p.spawned.running ? 1 : 0], [`${at}.respawns`, p.spawned.respawns]);
      }
    }
  }
  s.triggerStores.forEach((store, i) => {
    const at = `trigger-store.${i}`;
    out.push(
      [`${at}.name`, store.name],
      [`${at}.up`, store.up ? 1 : 0],
      [`${at}.outages`, store.outages.length],
      [`${at}.triggers`, store.triggers],
      [`${at}.allowed`, store.allowed],
      [`${at}.denied`, store.denied],
    );
  });
  if (s.secdownload)
    out.push(
      ['secdownload.403', s.secdownload.forbidden],
      ['secdownload.410', s.secdownload.gone],
      ['secdownload.valid', s.secdownload.valid],
    );
  return out;
}

/**
 * `?json`: lighttpd's seven fields in its order (TrafficTotal in kBytes, TrafficAverage5s in
 * kBytes/s), then ours under "KoaLighty". `jsonp=name` wraps it as lighttpd does, for a name
 * of letters, digits and `_` that starts with a letter; any other name is ignored.
 */
export function jsonText(s: StatusSnapshot, query: string): string {
  const body = JSON.stringify(
    {
      RequestsTotal: s.requests.total,
      TrafficTotal: Math.floor(s.requests.bytesOut / 1024),
      Uptime: s.uptime,
      BusyServers: s.connections.open,
      IdleServers: Math.max(0, s.connections.limit - s.connections.open),
      RequestAverage5s: Math.floor(s.requests.perSecond5s),
      TrafficAverage5s: Math.floor(s.requests.bytesPerSecond5s / 1024),
      KoaLighty: s,
    },
    null,
    '\t',
  );
  const jsonp = /^jsonp=([A-Za-z][A-Za-z0-9_]*)$/.exec(query);
  return jsonp ? `${jsonp[1]}(${body});` : body;
}

/**
 * status.statistics-url: lighttpd's plugin counters, `name: value` a line, in its order
 * (shorter names first, then bytewise). In 1.4.69 only the FastCGI backends have counters
 * (gw.*, and fastcgi.requests once one was sent); with none the answer is 204 without a body.
 */
export function statisticsText(s: StatusSnapshot): string {
  const counters = new Map<string, number>();
  const add = (name: string, value: number) => counters.set(name, (counters.get(name) ?? 0) + value);
  let active = 0;
  let requests = 0;
  for (const { hosts } of s.fastcgi) {
    for (const host of hosts) {
      const at = `gw.backend.${host.name}`;
      for (const p of host.processes) {
        add(`${at}.${p.index}.connected`, p.connects);
        add(`${at}.${p.index}.load`, p.active);
        add(`${at}.${p.index}.died`, p.spawned?.respawns ?? 0);
        add(`${at}.${p.index}.disabled`, p.disables);
        add(`${at}.${p.index}.overloaded`, 0);
        add(`${at}.load`, p.active);
        active += p.active;
        requests += p.requests;
      }
    }
  }
  if (counters.size === 0) return '';
  counters.set('gw.active-requests', active);
  // lighttpd makes this one at the first request to a backend.
  if (requests > 0) counters.set('fastcgi.requests', requests);
  const names = [...counters.keys()].sort((a, b) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0));
  return names.map((name) => `${name}: ${counters.get(name)}\n`).join('');
}
