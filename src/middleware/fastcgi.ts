import { resolve } from 'node:path';
import type { Context, Middleware, Next } from 'koa';
import type { Backend } from '../backends/backend.js';
import { releaseBackend } from '../backends/handover.js';
import { FastCgiError, RequestAborted } from '../fastcgi/errors.js';
import type { FastCgiResponse } from '../fastcgi/exchange.js';
import { ClientGone } from '../fastcgi/pool-options.js';
import { joinPath, spelledRoot } from '../http/doc-root.js';
import { respondWithError } from '../http/error-page.js';
import { RequestTooLarge } from '../http/limits.js';
import { DEFAULT_MIME_ASSIGN, MimeTypes } from '../http/mime.js';
import { asciiLowerCase } from '../http/physical.js';
import { type RequestState, requestState } from '../http/request-state.js';
import { defaultUploadDirs, SpoolFailed } from '../http/spool.js';
import { defaultLogger } from '../log.js';
import { buildCgiParams, cgiParamsForWire } from './cgi-env.js';
import { fastcgiAuthorizer } from './fastcgi-authorizer.js';
import { buildHosts, type HostBlock, type KeyTarget } from './fastcgi-hosts.js';
import { checkFastCgiOptions, type FastCgiKey, type FastCgiOptions } from './fastcgi-options.js';
import { type BackendRequestBody, backendRequestBody } from './fastcgi-request-body.js';
import { applyBackendHead, discardBody, sendBackendBody } from './fastcgi-response.js';
import { FastCgiRoutes } from './fastcgi-route.js';
import { findSendfileDirective, sendBackendFile } from './sendfile.js';
import { resolveRequestFile } from './static.js';

export type { FastCgiHost, FastCgiKey, FastCgiOptions } from './fastcgi-options.js';

/**
 * The FastCGI bridge: lighttpd's mod_fastcgi as a Koa middleware. Requests whose path matches
 * a key go to that key's hosts (php-cgi, spawned here or running elsewhere); the others go on
 * to the next middleware.
 *
 * ```ts
 * const php = fastcgi({ documentRoot: '/srv/www', indexFiles: ['index.php'],
 *   backends: [{ key: '.php', hosts: [{ socket: '/run/php.sock', binPath: '/usr/bin/php-cgi' }] }] });
 * await php.ready();          // spawns php-cgi (the first request would do it otherwise)
 * app.use(php);
 * // on shutdown: await php.close();
 * ```
 */
export interface FastCgiMiddleware extends Middleware {
  /**
   * Spawns the bin-path programs and resolves once their sockets listen (connections queue
   * there until the program accepts). A program that fails is logged and respawned, never a
   * rejection. Idempotent.
   */
  ready(): Promise<void>;
  /** Aborts running requests, closes every connection and stops the spawned processes. */
  close(): Promise<void>;
  /** Each key with its balancer and hosts, in config order: what the status page reads. */
  readonly targets: readonly KeyTarget[];
}

/** Bytes of a backend body still read after a send-file header before its connection is closed instead. */
const DISCARD_AFTER_SENDFILE = 64 * 1024;

interface ScriptPaths {
  scriptName: string;
  pathInfo: string;
  scriptFilename: string;
}

export function fastcgi(options: FastCgiOptions): FastCgiMiddleware {
  checkFastCgiOptions(options);
  const log = options.log ?? defaultLogger;
  const mimeTypes =
    options.mimeTypes instanceof MimeTypes
      ? options.mimeTypes
      : new MimeTypes(options.mimeTypes ?? DEFAULT_MIME_ASSIGN);
  const documentRoot = withoutTrailingSlash(resolve(options.documentRoot));
  // DOCUMENT_ROOT as lighttpd spells it: a configured trailing slash stays.
  const spelledDocumentRoot = spelledRoot(options.documentRoot);
  const lowercase = options.forceLowercaseFilenames === true;
  const fileOptions = {
    documentRoot: spelledDocumentRoot,
    indexFiles: options.indexFiles,
    followSymlink: options.followSymlink,
    forceLowercaseFilenames: lowercase,
  };
  const serverTag = options.serverTag ?? 'koa-lighty';
  const uploadDirs = options.uploadDirs?.length
    ? options.uploadDirs.map((dir) => resolve(dir))
    : defaultUploadDirs();
  // 0 is lighttpd's "buffer the whole answer"; unset streams (README, Deliberate differences).
  const spoolResponsesTo = options.streamResponseBody === 0 ? uploadDirs : undefined;
  // Authorizer and responder hosts of one key are two lists, as in lighttpd; one address
  // named in both is one backend.
  const sharedBackends = options.sharedBackends ?? new Map<string, Backend>();
  const responders = buildHosts(
    { ...options, sharedBackends, backends: hostsOfMode(options.backends, 'responder') },
    mimeTypes,
    log,
  );
  const authorizers = buildHosts(
    { ...options, sharedBackends, backends: hostsOfMode(options.backends, 'authorizer') },
    mimeTypes,
    log,
  );
  const backends = [...new Set([...responders.backends, ...authorizers.backends])];
  const extensionMap = Object.entries(options.mapExtensions ?? {});
  const routes = new FastCgiRoutes(responders.routes, extensionMap);

  let starting: Promise<void> | undefined;
  let started = false;
  let closing: Promise<void> | undefined;
  const ready = () => {
    starting ??= Promise.all(backends.map((backend) => backend.start())).then(() => {
      started = true;
    });
    return starting;
  };
  const close = () => {
    closing ??= (async () => {
      await starting?.catch(() => {});
      // A backend the next app took over (SIGUSR1, same options) keeps running.
      await Promise.all(backends.map((backend) => releaseBackend(backend, sharedBackends)));
    })();
    return closing;
  };

  const authorize =
    authorizers.routes.length > 0
      ? fastcgiAuthorizer({
          routes: new FastCgiRoutes(authorizers.routes, extensionMap),
          fileOptions,
          documentRoot,
          lowercase,
          serverTag,
          serverName: options.serverName,
          log,
          ensureStarted,
          fail: answerFailure,
          respond: (ctx, block, response) => respond(ctx, block, response),
        })
      : undefined;

  const middleware = async function fastcgiMiddleware(ctx: Context, next: Next): Promise<void> {
    let state: RequestState;
    try {
      state = requestState(ctx);
      if (authorize && (await authorize(ctx))) return;
    } catch (error) {
      return answerFailure(ctx, error);
    }
    const path = state.path;
    const early = routes.matchUriPath(path);
    if (early && 'claimed' in early) {
      const { target, scriptName, pathInfo } = early.claimed;
      // lighttpd's physical path, built even when the disk is not consulted; from the host's
      // root when a vhost module chose one.
      const scriptFilename = joinPath(
        state.documentRoot ?? documentRoot,
        lowercase ? asciiLowerCase(scriptName) : scriptName,
      );
      return forward(ctx, target, { scriptName, pathInfo, scriptFilename });
    }
    if (early && !early.pending.target.balancer.available) {
      log.error('fastcgi', `all handlers for ${early.pending.key} are down`);
      return respondWithError(ctx, 503);
    }
    const found = await resolveRequestFile(ctx, fileOptions);
    if (found.kind === 'file') {
      const route = routes.matchFile(found.info.path, path);
      if (route) {
        if (!found.info.isFile) return respondWithError(ctx, 403);
        const paths = {
          scriptName: found.scriptPath,
          pathInfo: found.pathInfo,
          scriptFilename: found.info.path,
        };
        return forward(ctx, route.target, paths);
      }
    }
    // A script URL whose script is not there gets the file step's answer, with or without a
    // static stage behind us.
    if (early && found.kind === 'error') return respondWithError(ctx, found.status);
    if (early && found.kind === 'denied') return respondWithError(ctx, 403);
    return next();
  };

  /** lighttpd's basedir: the file step's (alias, vhost), else the vhost module's, else ours. */
  function requestDocumentRoot(state: RequestState): string {
    return state.docRoot ?? state.documentRoot ?? spelledDocumentRoot;
  }

  const onStderr = (line: string) => log.error('fastcgi', `FastCGI-stderr: ${line}`);

  /** false: the backends did not start, and the client got a 503. */
  async function ensureStarted(ctx: Context, target: KeyTarget): Promise<boolean> {
    if (started) return true;
    try {
      await ready();
      return true;
    } catch (error) {
      log.error('fastcgi', `backends for ${target.key} did not start: ${(error as Error).message}`);
      respondWithError(ctx, 503);
      return false;
    }
  }

  async function forward(ctx: Context, target: KeyTarget, paths: ScriptPaths): Promise<void> {
    if (!(await ensureStarted(ctx, target))) return;
    // The client going away must cost the backend connection, before and after the headers.
    // A spooled request body is closed with the response, whichever way that ends.
    const gone = new ClientGone();
    const res = ctx.res;
    let closed = false;
    let spooled: BackendRequestBody | undefined;
    res.once('close', () => {
      closed = true;
      if (!res.writableFinished) gone.abort();
      void spooled?.discard();
    });

    let body = backendRequestBody(ctx.req, uploadDirs);
    if (!isRequestBody(body)) {
      const settled = await body.catch((error: Error) => error);
      if (settled instanceof Error) return answerFailure(ctx, settled);
      if (closed) return void settled.discard();
      body = spooled = settled;
    }
    const requestBody = body;
    const debug = options.debug ? debugLog(ctx) : undefined;
    let answer: { backend: HostBlock['backend']; response: FastCgiResponse };
    try {
      answer = await target.balancer.request((backend) => {
        debug?.(`${target.key} → ${backend.label}, load ${backend.load}`);
        const settings = target.blocks.get(backend)!.settings;
        const params = buildCgiParams(ctx, {
          scriptName: paths.scriptName,
          pathInfo: paths.pathInfo,
          scriptFilename: paths.scriptFilename,
          // mod_alias gives the file its own root, and DOCUMENT_ROOT follows (lighttpd's basedir).
          documentRoot: requestDocumentRoot(requestState(ctx)),
          docrootOption: settings.docroot,
          stripRequestUri: settings.stripRequestUri,
          brokenScriptfilename: settings.brokenScriptfilename,
          serverTag,
          serverName: options.serverName,
          contentLength: requestBody.length,
        });
        const onConnection =
          debug && ((kept: boolean) => debug(`${backend.label}: ${kept ? 'kept' : 'new'} connection`));
        return {
          params: cgiParamsForWire(params),
          body: requestBody.body,
          signal: gone,
          onStderr,
          onConnection,
        };
      });
    } catch (error) {
      await requestBody.discard();
      return answerFailure(ctx, error);
    }
    const { backend, response } = answer;
    if (debug) {
      const answered = `${backend.label}: answered ${response.status}`;
      response.ended.then(
        (end) => debug(`${answered}, ended with app status ${end.appStatus}; load ${backend.load}`),
        (error: Error) => debug(`${answered}, then failed: ${error.message}; load ${backend.load}`),
      );
    }
    gone.addEventListener('abort', () => response.body.destroy());
    await respond(ctx, target.blocks.get(backend)!, response);
  }

  async function respond(ctx: Context, block: HostBlock, response: FastCgiResponse): Promise<void> {
    if (response.status < 200) {
      // An interim status cannot end a response; the backend broke the CGI contract.
      discardBody(response, 0);
      log.error('fastcgi', `backend ${block.backend.label} answered with status ${response.status}`);
      return respondWithError(ctx, 502);
    }
    applyBackendHead(ctx, response.status, response.headers);
    const directive = block.settings.allowXSendFile ? findSendfileDirective(response.headers) : undefined;
    if (directive) {
      // The file replaces the body: whatever PHP still writes is not waited for.
      discardBody(response, DISCARD_AFTER_SENDFILE);
      return sendBackendFile(ctx, response.status, directive, block.sendfile);
    }
    const onCut = (error: Error) => {
      if (!(error instanceof RequestAborted))
        log.error('fastcgi', `response from ${block.backend.label} cut: ${error.message}`);
    };
    try {
      await sendBackendBody(ctx, response, onCut, spoolResponsesTo);
    } catch (error) {
      answerFailure(ctx, error);
    }
  }

  /** fastcgi.debug's lines for one request: method and path (never the query, which may hold secrets). */
  function debugLog(ctx: Context): (line: string) => void {
    const request = `${ctx.method} ${requestState(ctx).path}`;
    return (line) => log.info('fastcgi', `${request}: ${line}`);
  }

  function answerFailure(ctx: Context, error: unknown): void {
    // The client is gone (before or while sending its body): nobody to answer.
    if (error instanceof RequestAborted || !ctx.req.socket || ctx.req.socket.destroyed) return;
    if (error instanceof RequestTooLarge) {
      log.error('fastcgi', `${ctx.method} ${ctx.url}: ${error.message}`);
      respondWithError(ctx, 413);
      // The rest of the body is not read (lighttpd closes too).
      ctx.set('Connection', 'close');
      return;
    }
    const status = (error as { status?: unknown }).status;
    if (error instanceof FastCgiError || error instanceof SpoolFailed || status === 400) {
      log.error('fastcgi', `${ctx.method} ${ctx.url}: ${(error as Error).message}`);
      respondWithError(
        ctx,
        error instanceof FastCgiError || error instanceof SpoolFailed ? error.status : 400,
      );
      // The rest of a body nobody could hold is not worth reading: lighttpd closes too.
      if (error instanceof SpoolFailed) ctx.set('Connection', 'close');
      return;
    }
    log.error('fastcgi', `${ctx.method} ${ctx.url}: ${(error as Error)?.stack ?? String(error)}`);
    respondWithError(ctx, 500);
  }

  // The status page shows every host, the authorizers too.
  const targets = [...responders.routes, ...authorizers.routes].map((route) => route.target);
  return Object.assign(middleware, { ready, close, targets });
}

/** The keys with their hosts of one mode; a key left with none is dropped. */
function hostsOfMode(keys: FastCgiKey[], mode: 'responder' | 'authorizer'): FastCgiKey[] {
  return keys
    .map(({ key, hosts }) => ({ key, hosts: hosts.filter((host) => (host.mode ?? 'responder') === mode) }))
    .filter(({ hosts }) => hosts.length > 0);
}

function isRequestBody(body: BackendRequestBody | Promise<BackendRequestBody>): body is BackendRequestBody {
  return !(body instanceof Promise);
}

function withoutTrailingSlash(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}
