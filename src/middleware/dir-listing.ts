import { statSync } from 'node:fs';
import type { Context, Middleware } from 'koa';
import { compilePcre } from '../config/pcre.js';
import { type CachedListing, type ListingCache, readCached, writeCached } from '../dirlisting/cache.js';
import { readEntries } from '../dirlisting/entries.js';
import { includedFile } from '../dirlisting/includes.js';
import { listingContentType, renderPage } from '../dirlisting/page.js';
import { respondWithError } from '../http/error-page.js';
import { DEFAULT_MIME_ASSIGN, type MimeAssign, MimeTypes, OCTET_STREAM } from '../http/mime.js';
import { requestState } from '../http/request-state.js';
import { acceptRanges, requestedRanges, sendRanges } from '../http/serve-file.js';
import { defaultLogger, type Logger } from '../log.js';
import { OptionError } from '../option-error.js';
import { type RequestFileOptions, resolveRequestFile } from './static.js';

/**
 * mod_dirlisting: a GET or HEAD for a directory (asked for with its slash) that has no index
 * file gets an HTML page listing it, as lighttpd 1.4.69 writes it. Anything else goes on to
 * the next middleware, so it sits in front of staticFiles() (which answers 403 for a
 * directory nobody lists) or works alone. It shares the file step with staticFiles() and
 * fastcgi(): the same documentRoot, indexFiles, followSymlink and forceLowercaseFilenames
 * give the same answer, found once per request.
 *
 * lighttpd 1.4.69 has no JSON listing (`?json` came in 1.4.72) and no dir-listing.sort
 * (1.4.74): the query string is ignored and the rows are always sorted by name.
 */
export interface DirListingOptions extends RequestFileOptions {
  /** dir-listing.hide-dotfiles: leave out names starting with `.` (default true). */
  hideDotfiles?: boolean;
  /**
   * dir-listing.exclude: names to leave out. A string is a PCRE pattern as in lighttpd.conf,
   * a RegExp is used as it is; names are matched as UTF-8 text, and a name that is not valid
   * UTF-8 is left out whenever there is any pattern (lighttpd's PCRE fails closed on it).
   */
  exclude?: ReadonlyArray<string | RegExp>;
  /**
   * dir-listing.show-readme: a file shown under the table, a name in the listed directory
   * (`README.txt`) or an absolute path. Default none.
   */
  showReadme?: string;
  /** dir-listing.hide-readme-file: leave the readme file itself out of the list (default false). */
  hideReadmeFile?: boolean;
  /** dir-listing.encode-readme: escape it inside `<pre class="readme">` (default true); false inserts it as HTML. */
  encodeReadme?: boolean;
  /** dir-listing.show-header: the same, shown above the table. */
  showHeader?: string;
  hideHeaderFile?: boolean;
  encodeHeader?: boolean;
  /** dir-listing.external-css: a stylesheet URL used instead of the built-in style. */
  externalCss?: string;
  /** dir-listing.external-js: a script URL used instead of the built-in sorting script. */
  externalJs?: string;
  /** The line under the table (lighttpd: dir-listing.set-footer, else server.tag). Default none. */
  footer?: string;
  /** dir-listing.encoding: `<meta charset>` and the Content-Type's charset. */
  encoding?: string;
  /** dir-listing.auto-layout: the page around the table (default true); false sends the table alone. */
  autoLayout?: boolean;
  /** dir-listing.cache: keep each listing as a file under `path` for `maxAge` seconds (default 15). */
  cache?: { path: string; maxAge?: number };
  /** mimetype.assign, for the Type column: a MimeTypes or its list of [suffix, type]. Default DEFAULT_MIME_ASSIGN. */
  mimeTypes?: MimeTypes | MimeAssign;
  log?: Logger;
}

export function dirListing(options: DirListingOptions): Middleware {
  const log = options.log ?? defaultLogger;
  const mime =
    options.mimeTypes instanceof MimeTypes
      ? options.mimeTypes
      : new MimeTypes(options.mimeTypes ?? DEFAULT_MIME_ASSIGN);
  const exclude = (options.exclude ?? []).map(excludeRegex);
  const cache = listingCache(options.cache, log);
  const hiddenNames = [
    options.hideReadmeFile && options.showReadme,
    options.hideHeaderFile && options.showHeader,
  ].flatMap((name) => (name ? [Buffer.from(name, 'utf8')] : []));
  const followSymlink = options.followSymlink !== false;
  const contentType = listingContentType(options.encoding || undefined);

  const render = async (ctx: Context, directory: string): Promise<Buffer> => {
    const { dirs, files } = await readEntries(directory, {
      hideDotfiles: options.hideDotfiles !== false,
      hiddenNames,
      exclude,
    });
    const include = (name: string | undefined, kind: 'header' | 'readme', encode: boolean | undefined) =>
      name === undefined
        ? undefined
        : includedFile(directory, name, { kind, encode: encode !== false, followSymlink });
    const [header, readme] = await Promise.all([
      include(options.showHeader, 'header', options.encodeHeader),
      include(options.showReadme, 'readme', options.encodeReadme),
    ]);
    return renderPage({
      uriPath: requestState(ctx).path,
      dirs,
      files,
      typeOf: (name) => mime.lookup(fileName(name)) ?? OCTET_STREAM,
      autoLayout: options.autoLayout !== false,
      encoding: options.encoding || undefined,
      externalCss: options.externalCss || undefined,
      externalJs: options.externalJs || undefined,
      footer: options.footer || undefined,
      header,
      readme,
    });
  };

  return async function dirListingMiddleware(ctx, next) {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return next();
    const found = await resolveRequestFile(ctx, options);
    if (found.kind !== 'directory') return next();
    const directory = found.info.path;
    const cached = cache ? await readCached(cache, directory) : undefined;
    if (cached) return send(ctx, cached.body, contentType, cached);
    let body: Buffer;
    try {
      body = await render(ctx, directory);
    } catch (error) {
      // lighttpd: opendir failed (permissions, removed meanwhile) → 403, and a line in the log.
      log.error('dirlisting', `opendir ${directory}: ${(error as Error).message}`);
      return respondWithError(ctx, 403);
    }
    const etag = cache ? await writeCached(cache, directory, body) : undefined;
    send(ctx, body, contentType, etag && cache ? { etag, maxAge: cache.maxAge } : undefined);
  };
}

/**
 * A complete 200: lighttpd cuts any complete answer by Range (and advertises it), the
 * listing too. A cached one carries the entry's ETag and its time left as max-age (unless an
 * earlier stage set Cache-Control); lighttpd answers If-None-Match on it with the whole page
 * again, not 304, and so does this.
 */
function send(
  ctx: Context,
  body: Buffer,
  contentType: string,
  cached: Pick<CachedListing, 'etag' | 'maxAge'> | undefined,
): void {
  ctx.status = 200;
  ctx.set('Content-Type', contentType);
  if (cached) {
    if (!ctx.response.get('Cache-Control')) ctx.set('Cache-Control', `max-age=${cached.maxAge}`);
    ctx.set('ETag', cached.etag);
  }
  const ranges = acceptRanges(ctx) ? requestedRanges(ctx, body.length) : undefined;
  if (ranges === 'unsatisfiable') respondWithError(ctx, 416);
  else if (ranges) sendRanges(ctx, body.length, ranges, contentType, (s, e) => body.subarray(s, e + 1));
  else ctx.body = body;
}

/** A name for the MIME lookup: UTF-8 text when it is, its bytes one to a character otherwise. */
function fileName(name: Buffer): string {
  const text = name.toString('utf8');
  return text.includes('\uFFFD') ? name.toString('latin1') : text;
}

function excludeRegex(pattern: string | RegExp): RegExp {
  if (pattern instanceof RegExp) return pattern;
  if (typeof pattern !== 'string')
    throw new OptionError('ERR_DIRLISTING_EXCLUDE', 'exclude', 'must be a list of regexes');
  try {
    return compilePcre(pattern);
  } catch (error) {
    throw new OptionError(
      'ERR_DIRLISTING_EXCLUDE',
      'exclude',
      `${JSON.stringify(pattern)}: ${(error as Error).message}`,
    );
  }
}

/**
 * lighttpd's checks of dir-listing.cache at start: a path that is not a directory is an
 * error; a path that does not exist only a warning (nothing is cached until it does);
 * max-age 0 turns the cache off.
 */
function listingCache(option: DirListingOptions['cache'], log: Logger): ListingCache | undefined {
  if (option === undefined) return undefined;
  const maxAge = option.maxAge ?? 15;
  if (!Number.isInteger(maxAge) || maxAge < 0)
    throw new OptionError(
      'ERR_DIRLISTING_CACHE',
      'cache',
      `"max-age" must be a whole number of seconds, 0 or more, not ${maxAge}`,
    );
  if (maxAge === 0) return undefined;
  const path = option.path;
  if (typeof path !== 'string' || path === '')
    throw new OptionError('ERR_DIRLISTING_CACHE', 'cache', 'must include "path"');
  let isDirectory: boolean | undefined;
  try {
    isDirectory = statSync(path).isDirectory();
  } catch {
    log.warn(
      'dirlisting',
      `dir-listing.cache "path" => "${path}" does not exist: nothing is cached until it does`,
    );
  }
  if (isDirectory === false)
    throw new OptionError('ERR_DIRLISTING_CACHE', 'cache', `"path" => "${path}" is not a dir`);
  return { path, maxAge };
}
