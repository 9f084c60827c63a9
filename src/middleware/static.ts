import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Context, Middleware } from 'koa';
import { spelledRoot } from '../http/doc-root.js';
import { respondWithError } from '../http/error-page.js';
import type { FileInfo } from '../http/file-info.js';
import { DEFAULT_MIME_ASSIGN, type MimeAssign, MimeTypes, OCTET_STREAM } from '../http/mime.js';
import { asciiLowerCase, resolvePhysical } from '../http/physical.js';
import { type RequestState, requestState } from '../http/request-state.js';
import { serveFile } from '../http/serve-file.js';
import { defaultLogger, type Logger } from '../log.js';
import { deniedAfterResolve } from './access.js';

/**
 * lighttpd's tail of the request (spec 1.2 items 4-6): the file step (404/403/301, PATH_INFO),
 * mod_indexfile, access check #2, mod_staticfile, and the answer when nobody handled it.
 */
export interface RequestFileOptions {
  /** server.document-root. */
  documentRoot: string;
  /**
   * index-file.names, tried in order for a path ending in `/`. A name starting with `/` is a
   * path from the document root and becomes the script path itself. Default: none.
   */
  indexFiles?: readonly string[];
  /** server.follow-symlink (default true). */
  followSymlink?: boolean;
  /**
   * server.force-lowercase-filenames: files are looked up with the path's ASCII letters in
   * lower case (`/IMAGE.JPG` is `image.jpg` on disk; the document root keeps its case).
   * Suffix rules on the file path (exclude-extensions, denySuffixes, mimetype.assign, the
   * FastCGI `.php` key) then see the lower-cased path, as in lighttpd.
   */
  forceLowercaseFilenames?: boolean;
}

export interface StaticFilesOptions extends RequestFileOptions {
  /** mimetype.assign: a MimeTypes or its list of [suffix, type]. Default DEFAULT_MIME_ASSIGN. */
  mimeTypes?: MimeTypes | MimeAssign;
  /** static-file.exclude-extensions: suffixes of the file path never sent as static files. */
  excludeExtensions?: readonly string[];
  /** static-file.disable-pathinfo: a file reached with trailing PATH_INFO is not sent (403). */
  disablePathInfo?: boolean;
  /**
   * Suffixes of the file path answered 403 whatever the method, never sent: scripts for an
   * interpreter this server does not run (cgi.assign; `''` matches every file), whose source
   * must not reach the client.
   */
  denySuffixes?: readonly string[];
  log?: Logger;
}

/**
 * What the file step found for a request.
 * - `file`: the entry that handles it, with lighttpd's uri.path after the step (`scriptPath`)
 *   and PATH_INFO. Usually a regular file; `info.isFile` is false for a fifo, a device…
 * - `directory`: a directory asked for with its slash, and no index file in it.
 * - `redirect`: a directory asked for without its slash (301).
 * - `error`: 404 or 403 from the file step itself.
 * - `denied`: access check #2 refused the script path (403).
 */
export type RequestFile =
  | { kind: 'file'; info: FileInfo; scriptPath: string; pathInfo: string }
  | { kind: 'directory'; info: FileInfo; scriptPath: string }
  | { kind: 'redirect'; location: string }
  | { kind: 'error'; status: 403 | 404 }
  | { kind: 'denied' };

const RESOLVED = Symbol.for('koa-lighty.request-file');

/**
 * The file step, index file and access check #2 for this request, done once: the result is
 * kept on the request, so the FastCGI bridge and the static stage share one answer. Also fills
 * the request state's `docRoot` and `physical`.
 */
export function resolveRequestFile(ctx: Context, options: RequestFileOptions): Promise<RequestFile> {
  const { docRoot, spelled, key } = resolvedOptions(options);
  const state = ctx.state as Record<symbol, ResolvedFiles | undefined>;
  const held = state[RESOLVED];
  // Stages asking with the same options share one answer; different options get their own.
  if (held) {
    if (held.key === key) return held.found;
    const other = held.others?.get(key);
    if (other) return other;
  }
  const found = findRequestFile(ctx, docRoot, spelled, options);
  if (!held) state[RESOLVED] = { key, found, others: undefined };
  else {
    held.others ??= new Map();
    held.others.set(key, found);
  }
  return found;
}

/**
 * Forgets the file step's answer for this request: the next stage to ask looks again (an
 * approving FastCGI authorizer with `docroot` moves the request to another root).
 */
export function forgetRequestFile(ctx: Context): void {
  delete (ctx.state as Record<symbol, unknown>)[RESOLVED];
}

/** The first answer of a request, and (rarely) those for other options. */
interface ResolvedFiles {
  key: string;
  found: Promise<RequestFile>;
  others: Map<string, Promise<RequestFile>> | undefined;
}

/** Options objects are made once per stage: their root and key are worked out once too. */
interface ResolvedOptions {
  /** The root as a path prefix: absolute, no trailing slash. */
  docRoot: string;
  /** The root as lighttpd spells it in DOCUMENT_ROOT (a trailing slash as configured). */
  spelled: string;
  key: string;
}

const optionKeys = new WeakMap<RequestFileOptions, ResolvedOptions & { from: unknown[] }>();

function resolvedOptions(options: RequestFileOptions): ResolvedOptions {
  const held = optionKeys.get(options);
  // A caller may change its options object between requests: recompute when it did.
  if (
    held &&
    held.from[0] === options.documentRoot &&
    held.from[1] === options.followSymlink &&
    held.from[2] === options.indexFiles &&
    held.from[3] === options.forceLowercaseFilenames
  )
    return held;
  const docRoot = documentRootPath(options.documentRoot);
  const key = [
    docRoot,
    options.followSymlink !== false,
    options.forceLowercaseFilenames === true,
    ...(options.indexFiles ?? []),
  ].join('\0');
  const from = [
    options.documentRoot,
    options.followSymlink,
    options.indexFiles,
    options.forceLowercaseFilenames,
  ];
  const made = { docRoot, spelled: spelledRoot(options.documentRoot), key, from };
  // A relative root depends on the working directory, which may change: not kept.
  if (options.documentRoot.startsWith('/')) optionKeys.set(options, made);
  return made;
}

async function findRequestFile(
  ctx: Context,
  rootOption: string,
  spelledOption: string,
  options: RequestFileOptions,
): Promise<RequestFile> {
  const state = requestState(ctx);
  // The docroot hook (mod_simple_vhost, mod_evhost) may have chosen the host's own root.
  const vhostRoot = state.documentRoot;
  // lighttpd joins it to the path with one slash and no other normalisation (a pattern's
  // empty part leaves `//` in SCRIPT_FILENAME): so does the physical path here.
  const root = vhostRoot === undefined ? rootOption : vhostRoot.replace(/\/$/, '');
  // mod_alias moves a URL prefix onto another directory: look the rest of the path up there,
  // and put the prefix back in front of what the file step reports in URL terms.
  const aliased = aliasedBase(state);
  const base = aliased ?? { docRoot: root, path: state.path, urlPrefix: '' };
  const docRoot = base.docRoot;
  const physical = await resolvePhysical(docRoot, base.path, state.target, {
    followSymlink: options.followSymlink,
    locationPath: state.path,
    lowercase: options.forceLowercaseFilenames,
  });
  if (physical.kind === 'redirect' || physical.kind === 'error') return physical;
  let found: Found;
  if (physical.kind === 'file') {
    found = {
      kind: 'file',
      info: physical.info,
      scriptPath: base.urlPrefix + physical.scriptPath,
      pathInfo: physical.pathInfo,
    };
  } else {
    const index = await indexFile(docRoot, base.path, state.target, options);
    if (index?.kind === 'error') return index;
    if (index) index.scriptPath = base.urlPrefix + index.scriptPath;
    found = index ?? { kind: 'directory', info: physical.info, scriptPath: state.path };
  }
  if (deniedAfterResolve(ctx, found.scriptPath)) return { kind: 'denied' };
  // DOCUMENT_ROOT: lighttpd's basedir, as the config (or the vhost module) spells it.
  state.docRoot ??= aliased ? docRoot : (vhostRoot ?? spelledOption);
  state.physical = {
    path: found.info.path,
    info: found.info,
    scriptPath: found.scriptPath,
    pathInfo: found.kind === 'file' ? found.pathInfo : '',
  };
  return found;
}

type Found = Extract<RequestFile, { kind: 'file' | 'directory' }>;

/** mod_indexfile: the first name that exists wins, whatever it is; a refused one is a 403. */
async function indexFile(
  docRoot: string,
  dirPath: string,
  target: string,
  options: RequestFileOptions,
): Promise<Extract<RequestFile, { kind: 'file' | 'error' }> | undefined> {
  for (const name of options.indexFiles ?? []) {
    if (name === '') continue;
    const scriptPath = name.startsWith('/') ? name : dirPath + name;
    // lighttpd appends the name as written to the (lower-cased) directory's physical path.
    const diskPath =
      options.forceLowercaseFilenames && !name.startsWith('/') ? asciiLowerCase(dirPath) + name : scriptPath;
    const candidate = await resolvePhysical(docRoot, scriptPath, target, {
      followSymlink: options.followSymlink,
      diskPath,
    });
    switch (candidate.kind) {
      case 'file':
        if (candidate.pathInfo === '')
          return { kind: 'file', info: candidate.info, scriptPath, pathInfo: '' };
        break;
      case 'redirect':
      case 'directory':
        // A directory named like an index file: lighttpd takes it, then mod_staticfile refuses it.
        return { kind: 'error', status: 403 };
      case 'error':
        if (candidate.status === 403) return candidate;
        break;
    }
  }
  return undefined;
}

/**
 * Where an aliased path lives: `directory` + the rest of the path after `prefix`, split so that
 * the rest starts with `/`. A prefix without its slash matches only whole segments here
 * (`/js` matches `/js` and `/js/x`, not `/jsx` nor `/js../etc`: the traversal lighttpd fixed
 * in 1.4.51, CVE-2018-19052).
 */
export function aliasedBase(
  state: RequestState,
): { docRoot: string; path: string; urlPrefix: string } | undefined {
  const alias = state.alias;
  if (!alias) return undefined;
  let rest = state.path.slice(alias.prefix.length);
  // The request's own spelling of the prefix (it may differ in case: force-lowercase-filenames).
  let urlPrefix = state.path.slice(0, alias.prefix.length);
  if (alias.prefix.endsWith('/')) {
    rest = `/${rest}`;
    urlPrefix = urlPrefix.slice(0, -1);
  } else if (rest !== '' && !rest.startsWith('/')) {
    return undefined;
  }
  // An empty rest names the directory itself: the file step then redirects to add the slash.
  return { docRoot: documentRootPath(alias.directory), path: rest, urlPrefix };
}

/** Absolute, without a trailing slash: document root + uri.path is the physical path. */
export function documentRootPath(documentRoot: string): string {
  const absolute = resolve(documentRoot);
  return absolute.length > 1 && absolute.endsWith('/') ? absolute.slice(0, -1) : absolute;
}

/**
 * Serves files from the document root as lighttpd does. What it does not serve (a missing
 * file, a directory without an index, an excluded extension, a method other than
 * GET/HEAD/POST) goes on to the next middleware first; if nothing there answers, the request
 * gets lighttpd's answer for it: the file step's 404/403/301, or "nobody handled it" (spec 1.2
 * item 6): 403 for GET/HEAD/POST, 200 with Allow for OPTIONS, 501 for other methods. Access
 * check #2 refusals are answered at once.
 */
export function staticFiles(options: StaticFilesOptions): Middleware {
  const mime =
    options.mimeTypes instanceof MimeTypes
      ? options.mimeTypes
      : new MimeTypes(options.mimeTypes ?? DEFAULT_MIME_ASSIGN);
  const excluded = (options.excludeExtensions ?? []).filter((ext) => ext !== '');
  const denied = options.denySuffixes ?? [];
  const log = options.log ?? defaultLogger;
  if (!existsSync(options.documentRoot))
    log.warn(
      'staticfile',
      `document root ${options.documentRoot} does not exist: every request will be a 404`,
    );

  return async function staticFilesMiddleware(ctx, next) {
    const found = await resolveRequestFile(ctx, options);
    if (found.kind === 'denied') return respondWithError(ctx, 403);
    if (found.kind === 'file' && denied.some((suffix) => found.info.path.endsWith(suffix)))
      return respondWithError(ctx, 403);
    if (found.kind === 'file' && servesStatically(ctx.method, found)) {
      // A fifo, a device…: mod_staticfile refuses anything but a regular file.
      if (!found.info.isFile) return respondWithError(ctx, 403);
      const type = mime.lookup(found.info.path) || undefined;
      // The implicit octet-stream fallback is sent without validators (lighttpd does the same).
      return serveFile(ctx, found.info, {
        contentType: type ?? OCTET_STREAM,
        validators: type !== undefined,
      });
    }
    await next();
    if (ctx.body != null || ctx.status !== 404) return;
    answerUnhandled(ctx, found);
  };

  function servesStatically(method: string, found: { info: FileInfo; pathInfo: string }): boolean {
    if (method !== 'GET' && method !== 'HEAD' && method !== 'POST') return false;
    if (options.disablePathInfo && found.pathInfo !== '') return false;
    return !excluded.some((ext) => found.info.path.endsWith(ext));
  }
}

/** The answer lighttpd gives when no module took the request. */
function answerUnhandled(ctx: Context, found: RequestFile): void {
  if (found.kind === 'error') respondWithError(ctx, found.status);
  else if (found.kind === 'redirect') redirect(ctx, found.location);
  else if (ctx.method === 'OPTIONS') allowedMethods(ctx);
  else
    respondWithError(ctx, ctx.method === 'GET' || ctx.method === 'HEAD' || ctx.method === 'POST' ? 403 : 501);
}

/** 301 to the directory with its slash: path-only Location, empty body, no Content-Type. */
function redirect(ctx: Context, location: string): void {
  ctx.body = null;
  ctx.status = 301;
  ctx.set('Location', location);
}

function allowedMethods(ctx: Context): void {
  ctx.body = null;
  ctx.status = 200;
  ctx.set('Allow', 'OPTIONS, GET, HEAD, POST');
}
