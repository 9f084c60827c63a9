import type { Context } from 'koa';
import type { FileInfo } from './file-info.js';
import { type NormalisedTarget, normaliseTarget } from './request-path.js';

/**
 * What the stages of one request learn about it, in lighttpd's terms. It lives on the Koa
 * context under a symbol, so each middleware can be used alone: the first one to ask
 * normalises the request-target, the others reuse it. Most stages look at `path` (uri.path,
 * decoded); url.redirect and url.rewrite match `encodedTarget` (see NormalisedTarget), the same
 * normalisation with the encoding kept, so their captures can go back into a URL as they are.
 */
export interface RequestState extends NormalisedTarget {
  /** The request-target exactly as received (REQUEST_URI). */
  readonly target: string;
  /**
   * lighttpd's physical.doc_root as the docroot hook leaves it: the host's directory that
   * mod_simple_vhost or mod_evhost found, spelled as lighttpd spells it (with its trailing
   * slash: PHP's DOCUMENT_ROOT shows it). Unset, each stage's own document root applies
   * (server.document-root of the request's blocks). The file step and the FastCGI bridge
   * build the physical path from it, as lighttpd's url.rewrite-if-not-file does.
   */
  documentRoot?: string;
  /**
   * The server's name for this request when a vhost module chose one (simple-vhost: the host
   * whose directory was found, or default-host): SERVER_NAME, instead of server.name or Host.
   */
  serverName?: string;
  /** The directory the physical path was built from (lighttpd's basedir: alias or secdownload may move it): DOCUMENT_ROOT. */
  docRoot?: string;
  /**
   * mod_alias: paths under `prefix` are files under `directory`, not under the document root
   * (DOCUMENT_ROOT becomes `directory`, SCRIPT_NAME stays the URL path).
   */
  alias?: { prefix: string; directory: string };
  /** Set once the physical path has been resolved (see resolveRequestFile in middleware/static). */
  physical?: PhysicalPath;
  /**
   * lighttpd's request environment (mod_setenv's setenv.*-environment): variables a backend
   * gets after the CGI ones and the HTTP_* headers, in order, names as configured (the FastCGI
   * stage encodes them as lighttpd does: `my-var` → MY_VAR); values are byte strings.
   */
  environment?: Array<[name: string, value: string]>;
  /**
   * The user mod_auth let in (REMOTE_USER; a latin1 byte string, as sent), or one an earlier
   * stage vouches for (what `method => "extern"` and auth.extern-authn accept).
   */
  remoteUser?: string;
  /** How remoteUser was established: `Basic`, `Digest` (AUTH_TYPE). */
  authType?: string;
  /**
   * The error status an error handler answers for (REDIRECT_STATUS); undefined when the
   * request is served as it was asked.
   */
  readonly redirectStatus?: number;
}

export interface PhysicalPath {
  /** Absolute file-system path of the file (or directory) that handles the request. */
  path: string;
  /** What the stat cache knows about it (FileInfo, not fs.Stats: the cached stat with lighttpd's ETag). */
  info: FileInfo;
  /**
   * lighttpd's uri.path after the file step: the request's path without PATH_INFO, with the
   * index file appended for a directory (SCRIPT_NAME; what access check #2 sees).
   */
  scriptPath: string;
  /** Trailing path after an existing regular file (`/index.php/a/b` → `/a/b`), or ''. */
  pathInfo: string;
}

const STATE = Symbol.for('koa-lighty.request');

/** The request's state; the first call normalises the target and may throw a 400 BadRequestTarget. */
export function requestState(ctx: Context): RequestState {
  const held = (ctx.state as Record<symbol, RequestState | undefined>)[STATE];
  if (held) return held;
  const target = ctx.req.url ?? '/';
  const state: RequestState = { target, ...normaliseTarget(target) };
  (ctx.state as Record<symbol, RequestState>)[STATE] = state;
  return state;
}

/**
 * Points the request at another target inside the server, as lighttpd's error handler does
 * with r->target: the stages from now on see its path and query, REQUEST_URI stays the target
 * received. Everything the stages learned of the old target goes with it: they keep it on
 * ctx.state under `Symbol.for('koa-lighty.…')` keys (this state, the file step's answer,
 * access check #2's rules), and every such key is dropped. Throws BadRequestTarget for a
 * target that does not normalise (the old state is then kept).
 */
export function retarget(ctx: Context, target: string, redirectStatus: number): RequestState {
  const entries = ctx.state as Record<symbol, unknown>;
  const held = entries[STATE] as RequestState | undefined;
  const state: RequestState = {
    target: held?.target ?? ctx.req.url ?? '/',
    ...normaliseTarget(target),
    redirectStatus,
  };
  for (const key of Object.getOwnPropertySymbols(entries))
    if (key.description?.startsWith('koa-lighty.')) delete entries[key];
  entries[STATE] = state;
  return state;
}
