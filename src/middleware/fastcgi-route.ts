/**
 * Which `fastcgi.server` key takes a request, and how its path splits into SCRIPT_NAME and
 * PATH_INFO (spec 3.2). lighttpd looks twice:
 *
 * 1. before the file step, at uri.path. A matching key whose first host has check-local off
 *    claims the request now, without looking at the disk; a `/prefix` key then splits the
 *    path itself (`/echo/foo/bar` → `/echo` + `/foo/bar`).
 * 2. after the file step and index-file, at the physical path: `.php` keys see
 *    `/srv/www/index.php` for `/index.php/extra/path` and for `/`. Whatever its check-local:
 *    a check-local-off `.php` key that the URL did not match (`/index.php/extra`, or
 *    `/INDEX.PHP` under force-lowercase-filenames) still takes the script found here, as in
 *    lighttpd; passing it on would send the script's source as a static file.
 *
 * A `/prefix` key with check-local on is matched against uri.path in the second look too
 * (lighttpd compares it with the physical path there, where it can only match by accident),
 * so `/app` + check-local means "scripts under /app that exist".
 */
export interface RouteKey<Target> {
  key: string;
  /** check-local of the key's first host: whether the disk is consulted. */
  checkLocal: boolean;
  /** fix-root-scriptname of the key's first host. */
  fixRootScriptname: boolean;
  target: Target;
}

export interface ClaimedEarly<Target> {
  target: Target;
  scriptName: string;
  pathInfo: string;
}

export class FastCgiRoutes<Target> {
  constructor(
    private readonly keys: readonly RouteKey<Target>[],
    /** map-extensions: [suffix, key] in configuration order. */
    private readonly extensionMap: ReadonlyArray<readonly [string, string]> = [],
  ) {}

  /**
   * The first look, at uri.path. `claimed`: a check-local-off key took the request. `pending`:
   * a check-local key matched the URL, so the request is PHP's once its script is found (and
   * a dead backend is a 503 before that). undefined: nothing matched yet.
   */
  matchUriPath(path: string): { claimed: ClaimedEarly<Target> } | { pending: RouteKey<Target> } | undefined {
    const route = this.find(path, path);
    if (!route) return undefined;
    if (route.checkLocal) return { pending: route };
    return { claimed: { target: route.target, ...splitPathInfo(route, path) } };
  }

  /** The second look: the physical path of the file found (and uri.path for `/prefix` keys). */
  matchFile(physicalPath: string, uriPath: string): RouteKey<Target> | undefined {
    return this.find(physicalPath, uriPath);
  }

  private find(fn: string, uriPath: string): RouteKey<Target> | undefined {
    for (const [suffix, key] of this.extensionMap) {
      if (fn.endsWith(suffix)) {
        const mapped = this.keys.find((route) => route.key === key);
        if (mapped) return mapped;
      }
    }
    return this.keys.find((route) =>
      route.key.startsWith('/') ? uriPath.startsWith(route.key) : fn.endsWith(route.key),
    );
  }
}

/**
 * SCRIPT_NAME and PATH_INFO for a request claimed without the disk: for `/prefix` the first
 * `/` after the prefix ends the script (`/echoes/x` with `/echo` → `/echoes` + `/x`); key `/`
 * with fix-root-scriptname gives SCRIPT_NAME '' and the whole path as PATH_INFO.
 */
export function splitPathInfo(
  route: Pick<RouteKey<unknown>, 'key' | 'fixRootScriptname'>,
  path: string,
): { scriptName: string; pathInfo: string } {
  if (!route.key.startsWith('/')) return { scriptName: path, pathInfo: '' };
  if (route.key === '/' && route.fixRootScriptname) return { scriptName: '', pathInfo: path };
  const slash = path.indexOf('/', route.key.length);
  if (slash < 0) return { scriptName: path, pathInfo: '' };
  return { scriptName: path.slice(0, slash), pathInfo: path.slice(slash) };
}
