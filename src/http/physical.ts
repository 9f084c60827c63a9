import { FileError, type FileInfo, fileInfo } from './file-info.js';
import { realPath } from './real-path.js';
import { normaliseTarget } from './request-path.js';

/**
 * lighttpd's "physical" step (spec 1.2, item 4): document root + uri.path on disk. A path that
 * runs through an existing regular file keeps the rest as PATH_INFO (`/index.php/a/b`); a
 * directory named without its trailing slash is redirected; nothing on disk is a 404.
 */
export type Physical =
  | { kind: 'file'; info: FileInfo; pathInfo: string; scriptPath: string }
  | { kind: 'directory'; info: FileInfo }
  | { kind: 'redirect'; location: string }
  | { kind: 'error'; status: 403 | 404 };

export interface PhysicalOptions {
  /** server.follow-symlink (default true); false refuses any path that goes through a symlink. */
  followSymlink?: boolean;
  /**
   * The request's uri.path, when `uriPath` is only the part below another root (mod_alias,
   * secdownload): the redirect for a directory must name the URL, not the file-system path.
   */
  locationPath?: string;
  /**
   * server.force-lowercase-filenames: the path is looked up on disk with its ASCII letters in
   * lower case (lighttpd lower-cases its rel_path, never the document root). The script path
   * keeps the request's spelling (SCRIPT_NAME); PATH_INFO keeps it only where lighttpd can
   * find it again at the end of the request-target (see pathInfoCase).
   */
  lowercase?: boolean;
  /**
   * The path below docRoot to look up, when it is not uriPath itself (an index file appended
   * to a lower-cased directory keeps its own spelling). Same length as uriPath.
   */
  diskPath?: string;
}

/**
 * @param docRoot   absolute directory, without trailing slash
 * @param uriPath   the normalised uri.path
 * @param rawTarget the request-target as received, for the query of the redirect's Location
 */
export async function resolvePhysical(
  docRoot: string,
  uriPath: string,
  rawTarget: string,
  options: PhysicalOptions = {},
): Promise<Physical> {
  const diskPath = options.diskPath ?? (options.lowercase ? asciiLowerCase(uriPath) : uriPath);
  const full = docRoot + diskPath;
  let found: Physical;
  try {
    const info = await fileInfo(full);
    if (info.isDirectory) {
      found = uriPath.endsWith('/')
        ? { kind: 'directory', info }
        : { kind: 'redirect', location: slashed(options.locationPath ?? uriPath, rawTarget) };
    } else {
      found = { kind: 'file', info, pathInfo: '', scriptPath: uriPath };
    }
  } catch (err) {
    if (!(err instanceof FileError)) throw err;
    if (err.code !== 'ENOTDIR') return { kind: 'error', status: err.status as 403 | 404 };
    found = await fileBeforePathInfo(docRoot, uriPath, diskPath);
    if (found.kind === 'file' && diskPath !== uriPath)
      found.pathInfo = pathInfoCase(found.pathInfo, diskPath.slice(found.scriptPath.length), rawTarget);
  }
  if (options.followSymlink === false && found.kind !== 'error') {
    // A redirect too: lighttpd refuses a symlinked directory before it would add the slash.
    const entry = found.kind === 'redirect' ? full : found.info.path;
    if (await throughSymlink(docRoot, entry)) return { kind: 'error', status: 403 };
  }
  return found;
}

/** The longest prefix of uriPath that is a regular file (on disk as diskPath); the rest becomes PATH_INFO. */
async function fileBeforePathInfo(docRoot: string, uriPath: string, diskPath: string): Promise<Physical> {
  for (let cut = uriPath.lastIndexOf('/'); cut > 0; cut = uriPath.lastIndexOf('/', cut - 1)) {
    const scriptPath = uriPath.slice(0, cut);
    try {
      const info = await fileInfo(docRoot + diskPath.slice(0, cut));
      if (info.isFile) return { kind: 'file', info, pathInfo: uriPath.slice(cut), scriptPath };
      return { kind: 'error', status: 404 };
    } catch (err) {
      if (!(err instanceof FileError)) throw err;
      if (err.code !== 'ENOTDIR') return { kind: 'error', status: err.status as 403 | 404 };
    }
  }
  return { kind: 'error', status: 404 };
}

/** lighttpd's buffer_to_lower: A-Z only, so the length never changes (`İ` stays `İ`). */
export function asciiLowerCase(path: string): string {
  return /[A-Z]/.test(path) ? path.replace(/[A-Z]+/g, (letters) => letters.toLowerCase()) : path;
}

/** Characters a path keeps unencoded in lighttpd's normalised request-target (RFC 3986 pchar and `/`). */
const LITERAL_IN_TARGET = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/]*$/;

/**
 * PATH_INFO under force-lowercase-filenames: lighttpd takes it from the end of the
 * request-target when that end equals the lower-cased path info but for case, and keeps the
 * lower-cased one otherwise. So `/index.php/Foo` gives `/Foo`, but `/index.php/Foo?x=1` (the
 * target ends in the query) and `/index.php/F%20oo` (the target holds `%20`) give lower case.
 */
function pathInfoCase(requested: string, lowered: string, rawTarget: string): string {
  return rawTarget.includes('?') || !LITERAL_IN_TARGET.test(requested) ? lowered : requested;
}

async function throughSymlink(docRoot: string, path: string): Promise<boolean> {
  try {
    const [root, real] = await Promise.all([realPath(docRoot), realPath(path)]);
    // realpath drops a trailing slash (`/dir/` → `/dir`); the root itself has nothing after it.
    const rest = path.slice(docRoot.length).replace(/\/+$/, '');
    return real !== root + rest;
  } catch {
    return true;
  }
}

/**
 * The same URL with `/` after the path, as lighttpd builds it: uri.path (decoded, simplified)
 * percent-encoded again, then the normalised query if there is one. Path-only: no scheme, no
 * host (seen on 1.4.67 and 1.4.69).
 */
function slashed(uriPath: string, rawTarget: string): string {
  const query = normaliseTarget(rawTarget).query;
  return `${encodeRelativeUri(uriPath)}/${query ? `?${query}` : ''}`;
}

/** lighttpd's ENCODING_REL_URI: every byte but `A-Z a-z 0-9 ! ( ) * - . / _ ~` as upper-case %XX. */
export function encodeRelativeUri(path: string): string {
  let out = '';
  for (const byte of Buffer.from(path, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9!()*\-./_~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
