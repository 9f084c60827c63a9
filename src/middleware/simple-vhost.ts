import type { Middleware } from 'koa';
import { requestAuthority } from '../http/authority.js';
import { joinPath, notADirectory, spelledRoot, withSlash } from '../http/doc-root.js';
import { requestState } from '../http/request-state.js';
import { defaultLogger, type Logger } from '../log.js';
import { OptionError } from '../option-error.js';

export interface SimpleVhostOptions {
  /** simple-vhost.server-root: the directory holding one directory per host name. */
  serverRoot: string;
  /** simple-vhost.default-host: the host whose directory serves a host that has none. */
  defaultHost?: string;
  /** simple-vhost.document-root: the document root inside each host's directory (`htdocs`). */
  documentRoot?: string;
  /** simple-vhost.debug: log each host directory that is not there. */
  debug?: boolean;
  log?: Logger;
}

/**
 * lighttpd's mod_simple_vhost: the document root is `serverRoot/<host>/documentRoot/`, where
 * `<host>` is the request's host in canonical form (lower case, no trailing dot) without its
 * port. When that is no directory, the default host's is tried; when neither is, the request
 * keeps the server's document root. The host whose directory is used (the default host
 * included) becomes SERVER_NAME.
 *
 * The host cannot lead out of `serverRoot`: it is a name of letters, digits, `-` and `.`
 * labels (none of them empty or `..`), or an IPv6 literal, which lighttpd cuts at its first
 * `:` (`[::1]` looks for `serverRoot/[/`). A Host outside that policy is a 400.
 *
 * ```ts
 * app.use(simpleVhost({ serverRoot: '/srv/www', defaultHost: 'example.org', documentRoot: 'htdocs' }));
 * app.use(staticFiles({ documentRoot: '/srv/www/example.org/htdocs' }));
 * ```
 */
export function simpleVhost(options: SimpleVhostOptions): Middleware {
  if (!options.serverRoot)
    throw new OptionError('ERR_SIMPLE_VHOST_SERVER_ROOT', 'serverRoot', 'must name a directory');
  const serverRoot = withSlash(spelledRoot(options.serverRoot));
  // lighttpd appends a slash to the document root, and joins it to the host with one slash.
  const inside = options.documentRoot ? withSlash(options.documentRoot) : undefined;
  const defaultHost = options.defaultHost || undefined;
  const log = options.log ?? defaultLogger;

  /** The root for `host` (undefined: none, only serverRoot and documentRoot), if it is a directory. */
  async function rootFor(host: string | undefined): Promise<string | undefined> {
    const name = host === undefined ? '' : cutAtColon(host);
    const root = inside ? joinPath(serverRoot + name, inside) : withSlash(serverRoot + name);
    const problem = await notADirectory(root);
    if (problem === undefined) return root;
    if (options.debug) log.info('simple-vhost', `${root}: ${problem}`);
    return undefined;
  }

  return async function simpleVhostMiddleware(ctx, next) {
    const state = requestState(ctx);
    const authority = requestAuthority(ctx);
    let host: string | undefined = authority;
    let root = authority ? await rootFor(authority) : undefined;
    if (root === undefined) {
      host = defaultHost;
      root = await rootFor(host);
    }
    if (root !== undefined) {
      state.documentRoot = root;
      if (host) state.serverName = host;
    }
    await next();
  };
}

/** lighttpd cuts the host at its first `:`, the port's, or the first of an IPv6 literal's. */
function cutAtColon(host: string): string {
  const colon = host.indexOf(':');
  return colon >= 0 ? host.slice(0, colon) : host;
}
