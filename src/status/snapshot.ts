/**
 * The registry's figures as one plain object: what `?json` sends under "KoaLighty", what the
 * HTML page and the metrics are written from. Stages built for different config blocks share
 * backends and stores, so figures are grouped by the objects themselves, each shown once.
 */
import type { Backend } from '../backends/backend.js';
import type { Balancer } from '../backends/balancer.js';
import { describeAddress } from '../fastcgi/connection.js';
import type { OutageLog } from '../stores/outage-log.js';
import type { TriggerStore } from '../stores/types.js';
import { LATENCY_BOUNDS_MS } from './histogram.js';
import type { StatusRegistry } from './registry.js';

export interface ProcessSnapshot {
  /** lighttpd's process number within its host (port + n, socket-n). */
  index: number;
  address: string;
  /** Connections open to it, idle ones included. */
  connections: number;
  /** Connections serving a request. */
  busy: number;
  idle: number;
  /** Requests waiting for a connection. */
  queued: number;
  /** Requests running or waiting. */
  active: number;
  /** FCGI_MAX_CONNS as the backend answered (or the configured fallback), this process's share. */
  maxConns: number;
  /** Connections opened since start. */
  connects: number;
  /** Requests taken since start. */
  requests: number;
  /** Until when the balancer leaves it out (ms since the epoch), while it does. */
  disabledUntil: number | null;
  disables: number;
  lastError: { at: number; message: string } | null;
  /** Spawned here (bin-path): the program's pid, whether it runs, how often it was started again. */
  spawned: { pid: number | null; running: boolean; respawns: number; children: number } | null;
}

export interface HostSnapshot {
  label: string;
  /** The host's key in fastcgi.server when it has one (lighttpd's statistics name). */
  name: string;
  processes: ProcessSnapshot[];
}

export interface StoreSnapshot {
  name: string;
  /** Whether the last call any request made to it worked. */
  up: boolean;
  outages: { from: number; to: number | null; failures: number; reason: string }[];
  triggers: number;
  allowed: number;
  denied: number;
}

export interface StatusSnapshot {
  now: number;
  startedAt: number;
  uptime: number;
  worker: { index: number; count: number } | null;
  requests: { total: number; perSecond5s: number; bytesOut: number; bytesPerSecond5s: number };
  latencyMs: {
    count: number;
    sum: number;
    p50: number | null;
    p90: number | null;
    p99: number | null;
    /** Cumulative, as Prometheus: requests of at most `le` ms ("+Inf" last). */
    buckets: { le: number | '+Inf'; count: number }[];
  };
  /** `scoreboard`: lighttpd's letters of the open connections (h: handling a request, k: keep-alive). */
  connections: { open: number; active: number; limit: number; scoreboard: string };
  fastcgi: { key: string; hosts: HostSnapshot[] }[];
  triggerStores: StoreSnapshot[];
  secdownload: { forbidden: number; gone: number; valid: number } | null;
}

export function snapshot(registry: StatusRegistry): StatusSnapshot {
  const now = registry.now();
  const { latency } = registry;
  let cumulative = 0;
  const buckets = Array.from(latency.counts, (count, i) => {
    cumulative += count;
    return { le: (LATENCY_BOUNDS_MS[i] ?? '+Inf') as number | '+Inf', count: cumulative };
  });
  const pct = (q: number) => {
    const value = latency.percentile(q);
    return value === undefined || !Number.isFinite(value) ? null : value;
  };
  return {
    now,
    startedAt: registry.startedAt,
    uptime: Math.floor((now - registry.startedAt) / 1000),
    worker: registry.worker ?? null,
    requests: {
      total: registry.requests,
      perSecond5s: registry.requestRate.perSecond(now),
      bytesOut: registry.bytesOut,
      bytesPerSecond5s: registry.trafficRate.perSecond(now),
    },
    latencyMs: {
      count: latency.total,
      sum: latency.sumMs,
      p50: pct(0.5),
      p90: pct(0.9),
      p99: pct(0.99),
      buckets,
    },
    connections: {
      open: registry.connections.size,
      active: registry.activeConnections,
      limit: registry.connectionLimit,
      scoreboard: registry.scoreboard().slice(0, registry.connections.size),
    },
    fastcgi: fastcgiSnapshot(registry, now),
    triggerStores: storeSnapshot(registry),
    secdownload: secdownloadSnapshot(registry),
  };
}

function fastcgiSnapshot(registry: StatusRegistry, now: number): StatusSnapshot['fastcgi'] {
  // key → backend → the balancers (one per stage) that choose it
  const keys = new Map<string, Map<Backend, Balancer[]>>();
  for (const targets of registry.fastcgi) {
    for (const target of targets) {
      const hosts = keys.get(target.key) ?? new Map<Backend, Balancer[]>();
      keys.set(target.key, hosts);
      for (const backend of target.balancer.backends) {
        const balancers = hosts.get(backend) ?? [];
        if (!balancers.includes(target.balancer)) balancers.push(target.balancer);
        hosts.set(backend, balancers);
      }
    }
  }
  return [...keys].map(([key, hosts]) => ({
    key,
    hosts: [...hosts].map(([backend, balancers]) => ({
      label: backend.label,
      name: backend.name ?? '',
      processes: backend.pools.map((pool, index): ProcessSnapshot => {
        let disabledUntil: number | null = null;
        let disables = 0;
        for (const balancer of balancers) {
          const until = balancer.disabledUntilOf(pool);
          if (until !== undefined && until > now && (disabledUntil === null || until > disabledUntil))
            disabledUntil = until;
          disables += balancer.disableCountOf(pool);
        }
        const proc = backend.processes?.[index];
        const idle = pool.idleConnections;
        return {
          index,
          address: describeAddress(pool.address),
          connections: pool.connections,
          busy: Math.max(0, pool.connections - idle),
          idle,
          queued: pool.queued,
          active: pool.load,
          maxConns: pool.maxConns,
          connects: pool.connectsMade,
          requests: pool.requestsTaken,
          disabledUntil,
          disables,
          lastError: pool.lastError ?? null,
          spawned:
            proc && !proc.adopted
              ? {
                  pid: proc.pid ?? null,
                  running: proc.running,
                  respawns: proc.respawns,
                  children: proc.children,
                }
              : null,
        };
      }),
    })),
  }));
}

function storeSnapshot(registry: StatusRegistry): StoreSnapshot[] {
  const stores = new Map<
    TriggerStore,
    { outages: OutageLog[]; triggers: number; allowed: number; denied: number }
  >();
  for (const source of registry.triggers) {
    const entry = stores.get(source.store) ?? { outages: [], triggers: 0, allowed: 0, denied: 0 };
    if (!entry.outages.includes(source.outage)) entry.outages.push(source.outage);
    entry.triggers += source.counts.triggers;
    entry.allowed += source.counts.allowed;
    entry.denied += source.counts.denied;
    stores.set(source.store, entry);
  }
  return [...stores].map(([store, entry]) => ({
    name: store.name,
    up: !entry.outages.some((log) => log.inOutage),
    outages: entry.outages
      .flatMap((log) => log.history)
      .sort((a, b) => a.from - b.from)
      .map((o) => ({ from: o.from, to: o.to ?? null, failures: o.failures, reason: o.reason })),
    triggers: entry.triggers,
    allowed: entry.allowed,
    denied: entry.denied,
  }));
}

function secdownloadSnapshot(registry: StatusRegistry): StatusSnapshot['secdownload'] {
  if (registry.secdownloads.length === 0) return null;
  const sum = { forbidden: 0, gone: 0, valid: 0 };
  for (const counts of registry.secdownloads) {
    sum.forbidden += counts.forbidden;
    sum.gone += counts.gone;
    sum.valid += counts.valid;
  }
  return sum;
}
