import type { Context, Middleware, Next } from 'koa';
import { requestState } from '../http/request-state.js';
import { escapeHtml, PAGE_STYLE, statusPage } from '../status/html.js';
import { autoText, jsonText, statisticsText } from '../status/lighttpd-text.js';
import { pageScript } from '../status/page-script.js';
import { PROMETHEUS_CONTENT_TYPE, prometheusText } from '../status/prometheus.js';
import { StatusRegistry } from '../status/registry.js';
import { snapshot } from '../status/snapshot.js';

export { StatusRegistry } from '../status/registry.js';
export type { StatusSnapshot } from '../status/snapshot.js';

/**
 * lighttpd's mod_status as a Koa middleware, plus koa-lighty's figures and a Prometheus
 * endpoint. Each URL is compared with the decoded request path, as lighttpd does; the
 * query chooses the form of the status page: `auto` (text), `json…` / `jsonp=name`, anything
 * else HTML (`script` and `style` are the page's own script and stylesheet). Access rules are the app's business: mount
 * it behind them (the lighttpd.conf front end does, in lighttpd's module order).
 *
 * Used alone, give it a registry and mount `registry.track` first, so that requests count:
 * ```ts
 * const registry = new StatusRegistry();
 * app.use(registry.track);
 * app.use(serverStatus({ statusUrl: '/server-status', metricsUrl: '/metrics', registry }));
 * ```
 */
export interface ServerStatusOptions {
  /** status.status-url: the page, `?auto`, `?json`. */
  statusUrl?: string;
  /** status.statistics-url: lighttpd's counters (gw.* of the FastCGI backends). */
  statisticsUrl?: string;
  /** status.config-url: server features and loaded modules. */
  configUrl?: string;
  /** status.metrics-url (koa-lighty's own): Prometheus text format 0.0.4. */
  metricsUrl?: string;
  /** status.enable-sort: sortable connection table. Default true, as lighttpd. */
  enableSort?: boolean;
  /** Where the figures come from. Default: a registry of its own (counting nothing unless its track runs). */
  registry?: StatusRegistry;
  /** The page's headings (server.tag); '' leaves it out, as lighttpd. */
  serverTag?: string;
  /** The config page's "Loaded Modules" (server.modules), with or without `mod_`. */
  modules?: readonly string[];
}

export function serverStatus(options: ServerStatusOptions): Middleware {
  const registry = options.registry ?? new StatusRegistry();
  const sort = options.enableSort ?? true;
  const serverTag = options.serverTag ?? 'koa-lighty';
  const { statusUrl, statisticsUrl, configUrl, metricsUrl } = options;
  const script = pageScript(sort);

  return function serverStatusMiddleware(ctx: Context, next: Next) {
    const { path, query } = requestState(ctx);
    if (path === statusUrl) return status(ctx, query);
    if (path === configUrl) return send(ctx, 200, 'text/html', configPage(serverTag, options.modules ?? []));
    if (path === statisticsUrl) {
      const text = statisticsText(snapshot(registry));
      if (text === '') {
        ctx.status = 204;
        return;
      }
      return send(ctx, 200, 'text/plain', text);
    }
    if (path === metricsUrl)
      return send(ctx, 200, PROMETHEUS_CONTENT_TYPE, prometheusText(snapshot(registry)));
    return next();
  };

  function status(ctx: Context, query: string): void {
    if (query === 'auto') send(ctx, 200, 'text/plain', autoText(registry, snapshot(registry)));
    else if (query.startsWith('json'))
      send(ctx, 200, 'application/javascript', jsonText(snapshot(registry), query));
    else if (query === 'script') send(ctx, 200, 'text/javascript', script);
    else if (query === 'style') send(ctx, 200, 'text/css', PAGE_STYLE);
    else page(ctx, query);
  }

  function page(ctx: Context, query: string): void {
    const refresh = /^refresh=(\d+)/.exec(query);
    const html = statusPage(registry, snapshot(registry), {
      serverTag,
      hostname: ctx.get('host'),
      sort,
      statusUrl: statusUrl!,
      refresh: refresh ? Number(refresh[1]) : undefined,
    });
    send(ctx, 200, 'text/html', html);
  }
}

function send(ctx: Context, status: number, type: string, body: string): void {
  ctx.status = status;
  ctx.set('Content-Type', type);
  // The figures change from one request to the next: no cache may keep them.
  ctx.set('Cache-Control', 'no-store');
  ctx.body = body;
}

/** status.config-url as lighttpd 1.4.69 still has it: regex support, the event handler, the loaded modules. */
function configPage(serverTag: string, modules: readonly string[]): string {
  const names = modules.map((m) => m.replace(/^mod_/, ''));
  if (!names.includes('staticfile')) names.push('staticfile');
  const header = (name: string) => `   <tr>\n    <th colspan="2">${name}</th>\n   </tr>\n`;
  const row = (name: string, value: string) =>
    `   <tr>\n    <td><b>${name}</b></td>\n    <td>${value}</td>\n   </tr>\n`;
  return (
    '<?xml version="1.0" encoding="iso-8859-1"?>\n' +
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"\n' +
    '         "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n' +
    '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">\n' +
    ' <head>\n  <title>Status</title>\n </head>\n <body>\n' +
    (serverTag ? `  <h1>${escapeHtml(serverTag)}  </h1>\n` : '') +
    '  <table summary="status" border="1">\n' +
    header('Server-Features') +
    row('RegEx Conditionals', 'enabled') +
    header('Network Engine') +
    // Node's event loop (libuv) polls with epoll on Linux, which lighttpd calls linux-sysepoll.
    row('fd-Event-Handler', process.platform === 'linux' ? 'linux-sysepoll' : 'libuv') +
    header('Config-File-Settings') +
    row('Loaded Modules', names.map(escapeHtml).join('<br />')) +
    '  </table>\n </body>\n</html>\n'
  );
}
