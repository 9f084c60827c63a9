import { performance } from 'node:perf_hooks';
import type { Context, Middleware, Next } from 'koa';
import { requestState } from '../http/request-state.js';
import { defaultLogger, type Logger } from '../log.js';
import { withDeadline } from '../stores/deadline.js';
import { memoryStore } from '../stores/memory.js';
import { OutageLog } from '../stores/outage-log.js';
import type { TriggerStore } from '../stores/types.js';
import { clientIdentity, type IdentityOptions, TrustedProxies } from './trigger-identity.js';

/**
 * trigger-before-download (lighttpd's mod_trigger_b4_dl, removed in 1.4.64): a client that
 * has not opened a trigger page recently is redirected away from downloads.
 */
export interface TriggerOptions {
  /** Paths that count as visiting the site (`trigger-before-download.trigger-url`). */
  triggerUrl: RegExp | string;
  /** Paths that need a recent visit (`trigger-before-download.download-url`). */
  downloadUrl: RegExp | string;
  /** Location of the 307 for a denied download (`deny-url`); '' sends the 307 without one. */
  denyUrl: string;
  /**
   * Seconds a visit (and each download after it) stays valid (`trigger-timeout`). Default 0,
   * lighttpd's: the same second in the memory and file stores, forever in memcached.
   */
  timeout?: number;
  /** Where visits are remembered. Default: a memoryStore() of this middleware's own. */
  store?: TriggerStore;
  /** Proxies whose X-Forwarded-For is believed: addresses or CIDRs, IPv4 or IPv6. Default none. */
  trustedProxies?: readonly string[];
  /** Remember IPv6 clients by their /64 rather than the full address. Default false. */
  ipv6Prefix64?: boolean;
  /** Let downloads through while the store fails (lighttpd denied them). Default false. */
  failOpen?: boolean;
  /** Longest time the store may take per request, all calls together. Default 500 ms. */
  deadlineMs?: number;
  /** Logs identities and decisions at info level (`trigger-before-download.debug`). */
  debug?: boolean;
  log?: Logger;
  /** The clock, in milliseconds since the epoch (tests inject one). Default Date.now. */
  now?: () => number;
}

export type TriggerMiddleware = Middleware & {
  /** The store in use (the default memory store included), for closing it on shutdown. */
  readonly store: TriggerStore;
  /** The store's failures as this middleware saw them: whether it is down now, and its outages. */
  readonly outage: OutageLog;
  /** Requests seen since start: trigger pages, downloads let through and downloads denied. */
  readonly counts: Readonly<TriggerCounts>;
};

export interface TriggerCounts {
  triggers: number;
  allowed: number;
  denied: number;
}

const SOURCE = 'mod_trigger_b4_dl';
/** memcached reads an expiry above 30 days as a Unix time; lighttpd's limit was 65535 s. */
const MAX_TIMEOUT = 30 * 24 * 3600;

type Verdict = 'allow' | 'deny';

export function triggerBeforeDownload(options: TriggerOptions): TriggerMiddleware {
  const triggerUrl = compile(options.triggerUrl, 'triggerUrl');
  const downloadUrl = compile(options.downloadUrl, 'downloadUrl');
  // lighttpd 1.4.56+ answered 500 to every download without a deny-url; refusing at start
  // is kinder than a site that quietly breaks.
  if (typeof options.denyUrl !== 'string') throw new TypeError('triggerBeforeDownload needs a denyUrl');
  const denyUrl = options.denyUrl;
  const timeout = options.timeout ?? 0;
  if (!Number.isInteger(timeout) || timeout < 0 || timeout > MAX_TIMEOUT) {
    throw new RangeError(`trigger timeout must be whole seconds from 0 to ${MAX_TIMEOUT}`);
  }
  const store = options.store ?? memoryStore({ now: options.now });
  const failOpen = options.failOpen ?? false;
  const deadlineMs = options.deadlineMs ?? 500;
  const log = options.log ?? defaultLogger;
  const now = options.now ?? Date.now;
  const identityOptions: IdentityOptions = {
    trustedProxies: new TrustedProxies(options.trustedProxies),
    ipv6Prefix64: options.ipv6Prefix64 ?? false,
  };
  const outage = new OutageLog(
    log,
    SOURCE,
    store.name,
    failOpen
      ? 'downloads are let through (failOpen) until it answers'
      : 'downloads are denied until it answers',
  );

  const counts: TriggerCounts = { triggers: 0, allowed: 0, denied: 0 };

  /** One store call within what is left of this request's deadline; failures feed the outage log. */
  const ask = async <T>(until: number, what: string, work: () => Promise<T>): Promise<T> => {
    try {
      const result = await withDeadline(
        work(),
        Math.max(0, until - performance.now()),
        `${store.name} ${what}`,
      );
      outage.succeeded();
      return result;
    } catch (error) {
      outage.failed(error);
      throw error;
    }
  };

  const isFresh = (stored: number, seconds: number) =>
    // memcached expires items itself (see TriggerStore.freshness); gdbm-like stores compare.
    store.freshness === 'by-item-expiry' || seconds - stored <= timeout;

  const checkDownload = async (identity: string, seconds: number, until: number): Promise<Verdict> => {
    let stored: number | undefined;
    try {
      stored = await ask(until, 'get', () => store.get(identity));
    } catch {
      return failOpen ? 'allow' : 'deny';
    }
    if (stored === undefined) return 'deny';
    if (!isFresh(stored, seconds)) {
      await ask(until, 'delete', () => store.delete(identity)).catch(() => {});
      return 'deny';
    }
    // The window slides: each download counts as a fresh visit. A failure here only logs,
    // as in lighttpd: the entry was fresh, so the download goes on.
    await ask(until, 'set', () => store.set(identity, seconds, timeout)).catch(() => {});
    return 'allow';
  };

  const middleware = async function triggerBeforeDownload(ctx: Context, next: Next) {
    const { path } = requestState(ctx);
    const isTrigger = triggerUrl.test(path);
    const isDownload = downloadUrl.test(path);
    if (!isTrigger && !isDownload) return next();

    const identity = clientIdentity(ctx.req.socket.remoteAddress, headerText(ctx), identityOptions);
    const seconds = Math.floor(now() / 1000);
    const until = performance.now() + deadlineMs;
    if (isTrigger) counts.triggers++;
    // A trigger counts even if the page itself then fails (seen on lighttpd); a store error
    // is only logged and the page is served.
    if (isTrigger) await ask(until, 'set', () => store.set(identity, seconds, timeout)).catch(() => {});
    if (isDownload) {
      const verdict = await checkDownload(identity, seconds, until);
      if (options.debug) log.info(SOURCE, `${verdict} download ${path} for ${identity}`);
      if (verdict === 'deny') {
        counts.denied++;
        return deny(ctx, denyUrl);
      }
      counts.allowed++;
    } else if (options.debug) {
      log.info(SOURCE, `trigger ${path} for ${identity}`);
    }
    return next();
  };
  return Object.assign(middleware, { store, outage, counts });
}

/** lighttpd's deny: 307, Location = deny-url verbatim (none when ''), empty body. */
function deny(ctx: Context, denyUrl: string): void {
  ctx.status = 307;
  if (denyUrl !== '') ctx.set('Location', denyUrl);
  ctx.body = '';
  // Koa gives a string body a text/plain type; lighttpd's empty 307 had none.
  ctx.remove('Content-Type');
}

function headerText(ctx: Context): string | undefined {
  const value = ctx.req.headers['x-forwarded-for'];
  return Array.isArray(value) ? value.join(',') : value;
}

/**
 * A string becomes a RegExp once, here. Flags g and y are dropped: they make test() carry
 * lastIndex from one request to the next and miss every other match.
 */
function compile(pattern: RegExp | string | undefined, name: string): RegExp {
  if (pattern instanceof RegExp) return new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ''));
  if (typeof pattern !== 'string' || pattern === '')
    throw new TypeError(`triggerBeforeDownload needs ${name}`);
  try {
    return new RegExp(pattern);
  } catch (error) {
    throw new SyntaxError(
      `${name} "${pattern}" is not a valid regular expression: ${(error as Error).message}`,
    );
  }
}
