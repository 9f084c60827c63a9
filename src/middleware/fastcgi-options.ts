import type { Backend, BackendAddressOptions } from '../backends/backend.js';
import type { BalanceMode } from '../backends/balancer.js';
import type { MimeAssign, MimeTypes } from '../http/mime.js';
import type { Logger } from '../log.js';
import { OptionError } from '../option-error.js';

/**
 * The options of `fastcgi()`: lighttpd's `fastcgi.server` in camelCase (spec 3.1), so a
 * lighttpd.conf maps onto them one to one. Times are in seconds, as in lighttpd (fractions
 * allowed: `readTimeout: 0.5`).
 */
export interface FastCgiOptions {
  /**
   * `fastcgi.server`: tried in this order, first match wins. A key starting with `/` is a
   * plain byte prefix of the URL path (`/echo` matches `/echoes/x`); any other key is a
   * case-sensitive suffix of the file path (`.php`).
   */
  backends: FastCgiKey[];
  /** fastcgi.balance: `least-connection` (default; `fair` is its alias) or `round-robin`. */
  balance?: BalanceMode;
  /** fastcgi.map-extensions: `{ '.php3': '.php' }` sends `*.php3` to the `.php` key's hosts. */
  mapExtensions?: Record<string, string>;
  /** server.document-root: where check-local looks for scripts; DOCUMENT_ROOT unless a host sets `docroot`. */
  documentRoot: string;
  /** index-file.names: `/dir/` runs `/dir/index.php` when it exists. */
  indexFiles?: readonly string[];
  /** server.follow-symlink (default true). */
  followSymlink?: boolean;
  /** mimetype.assign, for files sent with X-Sendfile when the backend sent no Content-Type. */
  mimeTypes?: MimeTypes | MimeAssign;
  /**
   * server.force-lowercase-filenames: scripts are looked up with the path's ASCII letters in
   * lower case (SCRIPT_FILENAME is then lower case, SCRIPT_NAME keeps the request's spelling),
   * and X-Sendfile paths are lower-cased.
   */
  forceLowercaseFilenames?: boolean;
  /** server.tag: SERVER_SOFTWARE (default `koa-lighty`; '' sends it empty). */
  serverTag?: string;
  /** server.name: SERVER_NAME (default: the Host header without its port). */
  serverName?: string;
  /**
   * server.stream-response-body. 0 is lighttpd's default: the backend's whole answer is read
   * first (past 64 KiB into a temporary file in `uploadDirs`, so a 1 GiB answer does not sit
   * in memory), then sent with Content-Length, and a 200 honours Range. 1 and 2 stream it:
   * an answer not complete within 64 KiB goes out chunked as PHP writes it, paced by the
   * client (php-cgi waits while the client is slow; lighttpd does this only for 2). Unset,
   * koa-lighty streams (README, "Deliberate differences").
   */
  streamResponseBody?: 0 | 1 | 2;
  /**
   * server.upload-dirs: where a chunked request body (over 1 MiB) and, with
   * `streamResponseBody: 0`, a long answer are spooled. Tried in order: a directory where no
   * file can be made, or that is full, hands on to the next; none left is a 500. The files
   * are unlinked as soon as they are open and closed when the request ends. Default, as
   * lighttpd's: `$TMPDIR`, else `/var/tmp`.
   */
  uploadDirs?: readonly string[];
  /** The error log: php-cgi's STDERR, failing backends, refused send-file paths. */
  log?: Logger;
  /**
   * fastcgi.debug: from 1 on, each request logs the key and host chosen, the connection used
   * (kept or new), the backend's status and the end of the exchange. Default 0.
   */
  debug?: number;
  /**
   * Backends by address, shared with the other fastcgi() middlewares of one app (the
   * lighttpd.conf front end makes one per set of block options): one php-cgi and one pool per
   * address, whichever middleware names it first. Default: this middleware's own.
   */
  sharedBackends?: Map<string, Backend>;
  /**
   * A graceful restart's previous app's backends by address: one whose options are the same
   * is taken over (its php-cgi keeps running), one whose options changed is replaced.
   */
  previousBackends?: Map<string, Backend>;
  /**
   * `koa-lighty --workers N`: this process is worker `index` of `count` and opens only its
   * share of each backend's connections (php-cgi serves FCGI_MAX_CONNS at once, in total).
   */
  workerShare?: { index: number; count: number };
}

export interface FastCgiKey {
  /** `.php` (suffix of the file path) or `/prefix` (prefix of the URL path). */
  key: string;
  /** The hosts serving this key; balanced with `balance`. */
  hosts: FastCgiHost[];
}

/** One host block of fastcgi.server: where the backend is (and how to spawn it), and how to talk to it. */
export interface FastCgiHost extends BackendAddressOptions {
  /**
   * `responder` (default) answers the requests of its key. `authorizer` is asked first
   * (FCGI_AUTHORIZER, without the body): its 200 lets the request go on to the responder
   * key or static file that matches it, with its `Variable-NAME` headers as environment
   * NAME; any other answer goes to the client. Its `docroot` is where the request is then
   * served from.
   */
  mode?: 'responder' | 'authorizer';
  /** PHP_FCGI_CHILDREN for spawned processes (default: binEnvironment's, else 1, as lighttpd). */
  phpFcgiChildren?: number;
  /** PHP_FCGI_MAX_REQUESTS for spawned processes. */
  phpFcgiMaxRequests?: number;
  /** The script must exist under the document root (default true), else 404. */
  checkLocal?: boolean;
  /** The document root as the backend sees it (a remote machine): DOCUMENT_ROOT and SCRIPT_FILENAME. */
  docroot?: string;
  /** Prefix removed from REQUEST_URI (`/strip/index/list` → `/index/list`). */
  stripRequestUri?: string;
  /** With key `/` and checkLocal off: SCRIPT_NAME '' and PATH_INFO the whole path. */
  fixRootScriptname?: boolean;
  /** SCRIPT_FILENAME = script + PATH_INFO (for PHP's cgi.fix_pathinfo). */
  brokenScriptfilename?: boolean;
  /** Honour X-Sendfile2, X-Sendfile and X-LIGHTTPD-send-file from this host (lighttpd's x-sendfile). */
  allowXSendFile?: boolean;
  /** Directories send-file may send from (after resolving symlinks). Without: any readable file. */
  xSendfileDocroot?: string[];
  /** Seconds a host that refused a connection is left out (default 1). */
  disableTime?: number;
  /** Seconds (default 8). */
  connectTimeout?: number;
  /** Seconds without a byte from the backend before 504; 0 = no limit (default). */
  readTimeout?: number;
  /** Seconds the backend may refuse request-body bytes before 504; 0 = no limit (default). */
  writeTimeout?: number;
  /**
   * Ask the backend to keep the connection for the next request (FCGI_KEEP_CONN, default true;
   * lighttpd never does). Backends that ignore it (node-fastcgi) work either way.
   */
  keepConn?: boolean;
}

/** One host block with every default applied: what a request needs to know about its host. */
export interface HostSettings {
  checkLocal: boolean;
  docroot?: string;
  stripRequestUri?: string;
  fixRootScriptname: boolean;
  brokenScriptfilename: boolean;
  allowXSendFile: boolean;
  /** Normalised entries, each ending in `/`. */
  xSendfileDocroot: string[];
}

export function hostSettings(host: FastCgiHost): HostSettings {
  return {
    checkLocal: host.checkLocal ?? true,
    docroot: host.docroot || undefined,
    stripRequestUri: host.stripRequestUri || undefined,
    fixRootScriptname: host.fixRootScriptname ?? false,
    brokenScriptfilename: host.brokenScriptfilename ?? false,
    allowXSendFile: host.allowXSendFile ?? false,
    xSendfileDocroot: host.xSendfileDocroot ?? [],
  };
}

/** Seconds (lighttpd's unit) to the milliseconds the pool counts in; undefined stays undefined. */
export function secondsToMs(seconds: number | undefined): number | undefined {
  return seconds === undefined ? undefined : Math.round(seconds * 1000);
}

/** Startup errors lighttpd reports for a fastcgi.server it cannot use. */
export function checkFastCgiOptions(options: FastCgiOptions): void {
  if (!options.documentRoot) throw new TypeError('fastcgi: documentRoot is required');
  for (const { key, hosts } of options.backends) {
    if (!key) throw new TypeError('fastcgi: an empty key matches nothing');
    if (!Array.isArray(hosts) || hosts.length === 0) {
      throw new TypeError(`fastcgi: key ${JSON.stringify(key)} needs a list of hosts`);
    }
  }
  const stream = options.streamResponseBody;
  if (stream !== undefined && stream !== 0 && stream !== 1 && stream !== 2) {
    throw new OptionError(
      'ERR_STREAM_RESPONSE_BODY',
      'streamResponseBody',
      `must be 0 (buffer the whole answer), 1 or 2 (stream it), not ${JSON.stringify(stream)}`,
    );
  }
  if (
    options.uploadDirs !== undefined &&
    (!Array.isArray(options.uploadDirs) || options.uploadDirs.some((d) => typeof d !== 'string' || d === ''))
  ) {
    throw new OptionError('ERR_UPLOAD_DIRS', 'uploadDirs', 'must be a list of directory paths');
  }
  for (const [from, to] of Object.entries(options.mapExtensions ?? {})) {
    if (!options.backends.some((b) => b.key === to)) {
      throw new TypeError(`fastcgi: mapExtensions ${from} → ${to}: no such key`);
    }
  }
}
