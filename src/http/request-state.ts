import type { Context, Middleware } from 'koa';
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
  /** The request-target exactly as received (REQUEST_URI), also after a rewrite. */
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
  /**
   * Set once mod_rewrite changed the target: `path`, `query` and `encodedTarget` then describe
   * the rewritten one (REDIRECT_URI), while `target` stays the one the client sent.
   */
  rewritten?: boolean;
  /**
   * The captures of a matching config block's condition (its `=~` regex on this request),
   * for `%0`…`%9` in url.redirect and url.rewrite-* targets; set by the config front end.
   */
  conditionCaptures?: (block: number) => RegExpExecArray | undefined;
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

/**
 * mod_rewrite: the request goes on as if it had asked for `target` (a path and query, still
 * encoded). Like lighttpd's re-parse of r->target, the new target is normalised (a 400
 * BadRequestTarget when it cannot be), and what the old one led to (the document root, an
 * alias, the physical path) is forgotten; `target` (REQUEST_URI) and the environment stay.
 */
export function rewriteRequestTarget(ctx: Context, target: string): RequestState {
  const state = requestState(ctx);
  Object.assign(state, normaliseTarget(target));
  state.rewritten = true;
  delete state.docRoot;
  delete state.alias;
  delete state.physical;
  return state;
}

const COMEBACK = Symbol.for('koa-lighty.comeback');

/**
 * lighttpd's HANDLER_COMEBACK: a stage changed the target and asks for the request to be
 * handled again from the start, with the config's conditions evaluated for the new URL.
 * The config front end does that (takeComeback); a stage used alone calls its `next` instead.
 */
export function requestComeback(ctx: Context): void {
  (ctx.state as Record<symbol, boolean>)[COMEBACK] = true;
}

/** Keys of ctx.state that hold what one pass through the stages collected (forgetOnComeback). */
const PASS_KEYS = new Set<symbol>();

/**
 * Registers a ctx.state key whose value belongs to one pass through the stages (the access
 * rules the file step checks again, say): a comeback forgets it, since the stages that
 * collected it run again for the new URL.
 */
export function forgetOnComeback(key: symbol): void {
  PASS_KEYS.add(key);
}

const STAGES_REPEATED = Symbol.for('koa-lighty.stages-repeated');

/**
 * For the front end: whether a comeback was asked for since the last call. If so it is
 * cleared, with what the previous pass collected (forgetOnComeback). `stagesRan`: the
 * comeback came after the request-side stages had started (from the physical step), so they
 * now run a second time (see firstPassOnly).
 */
export function takeComeback(ctx: Context, stagesRan = false): boolean {
  const held = ctx.state as Record<symbol, unknown>;
  if (!held[COMEBACK]) return false;
  held[COMEBACK] = false;
  for (const key of PASS_KEYS) delete held[key];
  if (stagesRan) held[STAGES_REPEATED] = true;
  return true;
}

/**
 * The stage, skipped when the request passes a second time after a comeback: lighttpd's
 * mod_setenv applies its headers once per request, with the options of the first pass.
 */
export function firstPassOnly(stage: Middleware): Middleware {
  return function firstPass(ctx, next) {
    if ((ctx.state as Record<symbol, unknown>)[STAGES_REPEATED]) return next();
    return stage(ctx, next);
  };
}

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
