import { realpath } from 'node:fs/promises';
import { FileError, type FileInfo, fileInfo } from './file-info.js';

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
}

/**
 * @param docRoot   absolute directory, without trailing slash
 * @param uriPath   the normalised uri.path
 * @param rawTarget the request-target as received, for the redirect's Location
 */
export async function resolvePhysical(
  docRoot: string,
  uriPath: string,
  rawTarget: string,
  options: PhysicalOptions = {},
): Promise<Physical> {
  const full = docRoot + uriPath;
  let found: Physical;
  try {
    const info = await fileInfo(full);
    if (info.isDirectory) {
      found = uriPath.endsWith('/')
        ? { kind: 'directory', info }
        : { kind: 'redirect', location: slashed(rawTarget) };
    } else {
      found = { kind: 'file', info, pathInfo: '', scriptPath: uriPath };
    }
  } catch (err) {
    if (!(err instanceof FileError)) throw err;
    if (err.code !== 'ENOTDIR') return { kind: 'error', status: err.status as 403 | 404 };
    found = await fileBeforePathInfo(docRoot, uriPath);
  }
  if (options.followSymlink === false && found.kind !== 'redirect' && found.kind !== 'error') {
    if (await throughSymlink(docRoot, found.info.path)) return { kind: 'error', status: 403 };
  }
  return found;
}

/** The longest prefix of uriPath that is a regular file; the rest becomes PATH_INFO. */
async function fileBeforePathInfo(docRoot: string, uriPath: string): Promise<Physical> {
  for (let cut = uriPath.lastIndexOf('/'); cut > 0; cut = uriPath.lastIndexOf('/', cut - 1)) {
    const scriptPath = uriPath.slice(0, cut);
    try {
      const info = await fileInfo(docRoot + scriptPath);
      if (info.isFile) return { kind: 'file', info, pathInfo: uriPath.slice(cut), scriptPath };
      return { kind: 'error', status: 404 };
    } catch (err) {
      if (!(err instanceof FileError)) throw err;
      if (err.code !== 'ENOTDIR') return { kind: 'error', status: err.status as 403 | 404 };
    }
  }
  return { kind: 'error', status: 404 };
}

async function throughSymlink(docRoot: string, path: string): Promise<boolean> {
  try {
    const [root, real] = await Promise.all([realpath(docRoot), realpath(path)]);
    return real !== root + path.slice(docRoot.length);
  } catch {
    return true;
  }
}

/** The same URL with `/` after the path: lighttpd sends a path-only Location. */
function slashed(rawTarget: string): string {
  const q = rawTarget.indexOf('?');
  const path = q >= 0 ? rawTarget.slice(0, q) : rawTarget;
  const absolute = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/]*/.exec(path);
  const local = absolute ? path.slice(absolute[0].length) : path;
  return `${local}/${q >= 0 ? rawTarget.slice(q) : ''}`;
}
