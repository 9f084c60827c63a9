import type { Context } from 'koa';
import type { FastCgiResponse } from '../fastcgi/exchange.js';
import { ClientGone } from '../fastcgi/pool-options.js';
import { Role } from '../fastcgi/records.js';
import { joinPath } from '../http/doc-root.js';
import { respondWithError } from '../http/error-page.js';
import { asciiLowerCase } from '../http/physical.js';
import { requestState } from '../http/request-state.js';
import type { Logger } from '../log.js';
import { buildCgiParams, type CgiParams, cgiParamsForWire } from './cgi-env.js';
import type { HostBlock, KeyTarget } from './fastcgi-hosts.js';
import { discardBody } from './fastcgi-response.js';
import type { FastCgiRoutes } from './fastcgi-route.js';
import { appendVariable } from './setenv.js';
import { forgetRequestFile, type RequestFileOptions, resolveRequestFile } from './static.js';

/**
 * lighttpd's FastCGI authorizer (`"mode" => "authorizer"` hosts of fastcgi.server): before a
 * request is handled, the authorizer of the first key that matches it (the same two looks as
 * a responder key: the URL, then the file found) gets it with role FCGI_AUTHORIZER, without
 * the body, CONTENT_LENGTH, SCRIPT_NAME or PATH_INFO.
 *
 * - 200 lets the request go on to the responder key or the static file. The authorizer's
 *   body and headers are dropped, but each `Variable-NAME: value` becomes NAME in the
 *   request environment (the next FastCGI request's params, PHP's `$_SERVER`). With the
 *   host's `docroot`, the request is served from that directory afterwards.
 * - Any other answer is the client's, headers and body as the authorizer sent them.
 * - An authorizer that cannot be reached, times out or breaks the protocol fails the request
 *   the way a responder would (503, 504, 502): it never lets the request through.
 */
export interface AuthorizerParts {
  routes: FastCgiRoutes<KeyTarget>;
  /** The file step's options, the same object the responder side asks with (one shared answer). */
  fileOptions: RequestFileOptions;
  /** The document root without a trailing slash. */
  documentRoot: string;
  lowercase: boolean;
  serverTag: string;
  serverName?: string;
  log: Logger;
  /** Starts the backends (spawned php-cgi) if the first request comes before ready(). */
  ensureStarted(ctx: Context, target: KeyTarget): Promise<boolean>;
  /** The answer to a failed exchange (errors → statuses, as for a responder). */
  fail(ctx: Context, error: unknown): void;
  /** Sends a backend's answer to the client, as for a responder. */
  respond(ctx: Context, block: HostBlock, response: FastCgiResponse): Promise<void>;
}

/** Bytes of an approving authorizer's (ignored) body read before its connection is closed instead. */
const DISCARD_APPROVED_BODY = 64 * 1024;

const AUTHORIZED = Symbol.for('koa-lighty.fastcgi-authorized');

/**
 * Returns a function that runs the request's authorizer, if one matches: true when the
 * request was answered (refused, or failed), false when it goes on.
 */
export function fastcgiAuthorizer(parts: AuthorizerParts): (ctx: Context) => Promise<boolean> {
  const { routes, log } = parts;
  const onStderr = (line: string) => log.error('fastcgi', `FastCGI-stderr: ${line}`);

  return async function authorize(ctx: Context): Promise<boolean> {
    const held = ctx.state as Record<symbol, boolean | undefined>;
    // lighttpd runs one authorizer per request, also when the request passes again.
    if (held[AUTHORIZED]) return false;
    const state = requestState(ctx);
    const path = state.path;
    let target: KeyTarget;
    let scriptFilename: string;
    const early = routes.matchUriPath(path);
    if (early && 'claimed' in early) {
      // check-local off: claimed on the URL, and never split into SCRIPT_NAME and PATH_INFO.
      target = early.claimed.target;
      const root = state.documentRoot ?? parts.documentRoot;
      scriptFilename = joinPath(root, parts.lowercase ? asciiLowerCase(path) : path);
    } else {
      if (early && !early.pending.target.balancer.available) {
        log.error('fastcgi', `all handlers for ${early.pending.key} are down`);
        respondWithError(ctx, 503);
        return true;
      }
      const found = await resolveRequestFile(ctx, parts.fileOptions);
      // No file, no authorizer: the file step's answer, as lighttpd gives it first.
      if (found.kind === 'error' || found.kind === 'denied') {
        if (!early) return false;
        respondWithError(ctx, found.kind === 'error' ? found.status : 403);
        return true;
      }
      if (found.kind === 'redirect') return false;
      const route = routes.matchFile(found.info.path, path);
      if (!route) return false;
      target = route.target;
      scriptFilename = found.info.path;
    }
    if (!(await parts.ensureStarted(ctx, target))) return true;
    held[AUTHORIZED] = true;

    const gone = new ClientGone();
    ctx.res.once('close', () => {
      if (!ctx.res.writableFinished) gone.abort();
    });
    let answer: { backend: HostBlock['backend']; response: FastCgiResponse };
    try {
      answer = await target.balancer.request((backend) => ({
        params: cgiParamsForWire(
          authorizerParams(ctx, parts, target.blocks.get(backend)!, path, scriptFilename),
        ),
        body: null,
        role: Role.AUTHORIZER,
        signal: gone,
        onStderr,
      }));
    } catch (error) {
      parts.fail(ctx, error);
      return true;
    }
    const { backend, response } = answer;
    const block = target.blocks.get(backend)!;
    gone.addEventListener('abort', () => response.body.destroy());
    if (response.status !== 200) {
      await parts.respond(ctx, block, response);
      return true;
    }
    discardBody(response, DISCARD_APPROVED_BODY);
    approve(ctx, response.headers, block.settings.docroot);
    return false;
  };
}

/** lighttpd's authorizer params: the responder's, less the body's length and the script split. */
function authorizerParams(
  ctx: Context,
  parts: AuthorizerParts,
  block: HostBlock,
  path: string,
  scriptFilename: string,
): CgiParams {
  const state = requestState(ctx);
  const params = buildCgiParams(ctx, {
    scriptName: path,
    pathInfo: '',
    scriptFilename,
    documentRoot: state.docRoot ?? state.documentRoot ?? parts.fileOptions.documentRoot,
    docrootOption: block.settings.docroot,
    stripRequestUri: block.settings.stripRequestUri,
    serverTag: parts.serverTag,
    serverName: parts.serverName,
    contentLength: 0,
  });
  return params.filter(([name]) => !NOT_FOR_AUTHORIZERS.has(name));
}

const NOT_FOR_AUTHORIZERS = new Set(['CONTENT_LENGTH', 'SCRIPT_NAME', 'PATH_INFO', 'PATH_TRANSLATED']);
const VARIABLE = /^variable-(.+)$/i;

/**
 * The authorizer said yes: its Variable-* headers join the request environment (a name set
 * twice is joined with `, `, as lighttpd does), and its `docroot` becomes the request's root.
 */
function approve(
  ctx: Context,
  headers: ReadonlyArray<readonly [string, string]>,
  docroot: string | undefined,
): void {
  const state = requestState(ctx);
  const variables = headers.flatMap(([name, value]) => {
    const m = VARIABLE.exec(name);
    return m ? [[m[1]!, value] as const] : [];
  });
  if (variables.length > 0) {
    // A copy: the environment an earlier stage set up may be shared with other requests.
    const environment = (state.environment ?? []).map(([name, value]): [string, string] => [name, value]);
    for (const [name, value] of variables) appendVariable(environment, name, value);
    state.environment = environment;
  }
  if (docroot) {
    // lighttpd: the physical path is now docroot + uri.path, and so is DOCUMENT_ROOT.
    state.documentRoot = docroot;
    delete state.docRoot;
    delete state.alias;
    delete state.physical;
    forgetRequestFile(ctx);
  }
}
