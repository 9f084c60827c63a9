import type { Context } from 'koa';
import { respondWithError } from '../http/error-page.js';
import { FileError, type FileInfo, fileInfo } from '../http/file-info.js';
import type { MimeTypes } from '../http/mime.js';
import { realPath } from '../http/real-path.js';
import { decodePath, simplifyPath } from '../http/request-path.js';
import type { Logger } from '../log.js';

/**
 * Where a backend's send-file header points, checked like the untrusted input it is: decoded,
 * dot-segments resolved, then held against x-sendfile-docroot twice, once as a string (as
 * lighttpd does) and once after resolving symlinks (design.md 6), so a link inside the docroot
 * cannot hand out /etc/passwd.
 */
export interface SendfileOptions {
  /** x-sendfile-docroot as given by normaliseSendfileDocroots; empty or absent: any readable file. */
  docroots?: readonly string[];
  mimeTypes: MimeTypes;
  /** server.force-lowercase-filenames: paths and docroots compare in lower case. */
  forceLowercase?: boolean;
  log: Logger;
}

/** x-sendfile-docroot entries: absolute (else a configuration error), normalised, ending in `/`. */
export function normaliseSendfileDocroots(entries: readonly string[]): string[] {
  return entries.map((entry) => {
    if (!entry.startsWith('/')) throw new TypeError(`x-sendfile-docroot entries must start with /: ${entry}`);
    const path = simplifyPath(entry);
    return path.endsWith('/') ? path : `${path}/`;
  });
}

export type ResolvedFile = { info: FileInfo; name: string } | { status: number; reason: string };

/**
 * From the header's value to a regular file the backend may send.
 * @param nonRegular status for a directory or device: 403 for X-Sendfile, 502 for X-Sendfile2.
 */
export async function resolveSendfilePath(
  raw: string,
  options: SendfileOptions,
  nonRegular: number,
): Promise<ResolvedFile> {
  let decoded: string;
  try {
    decoded = decodePath(raw);
  } catch {
    // lighttpd refuses invalid UTF-8 with 502; we also refuse control characters (it maps them to `_`).
    return { status: 502, reason: `invalid UTF-8 or control character in ${JSON.stringify(raw)}` };
  }
  if (decoded.trim() === '') return { status: 502, reason: 'empty path' };
  if (!decoded.startsWith('/')) return { status: 403, reason: `relative path ${JSON.stringify(decoded)}` };
  let path = simplifyPath(decoded);
  if (options.forceLowercase) path = path.toLowerCase();

  const docroots = options.docroots ?? [];
  if (docroots.length > 0 && !docroots.some((root) => underRoot(path, root, options.forceLowercase))) {
    return { status: 403, reason: `${path} is not under x-sendfile-docroot` };
  }
  let target = path;
  if (docroots.length > 0) {
    try {
      target = await realPath(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
      return { status: new FileError(code, path).status, reason: `${path}: ${code}` };
    }
    let inside = false;
    for (const root of docroots) {
      const real = await realDocroot(root);
      if (real && underRoot(target, real, options.forceLowercase)) {
        inside = true;
        break;
      }
    }
    if (!inside) {
      return { status: 403, reason: `${path} resolves to ${target}, outside x-sendfile-docroot` };
    }
  }
  try {
    const info = await fileInfo(target);
    if (!info.isFile) return { status: nonRegular, reason: `${path} is not a regular file` };
    return { info, name: path };
  } catch (err) {
    if (!(err instanceof FileError)) throw err;
    return { status: err.status, reason: `${path}: ${err.code}` };
  }
}

/**
 * A failed send-file (spec 3.7 item 6): after a backend success the server's error page with
 * the failure's status; after a backend error status that status stays, with an empty body.
 */
export function sendfileFailed(
  ctx: Context,
  backendStatus: number,
  failure: { status: number; reason: string },
  log: Logger,
  header: string,
): void {
  log.error('sendfile', `${header} from the backend for ${ctx.path}: ${failure.reason}`);
  if (backendStatus < 300) {
    respondWithError(ctx, failure.status);
  } else {
    ctx.status = backendStatus;
    ctx.body = Buffer.alloc(0);
  }
}

function underRoot(path: string, root: string, caseless = false): boolean {
  return caseless ? path.toLowerCase().startsWith(root.toLowerCase()) : path.startsWith(root);
}

/** The docroot entry with its symlinks resolved, ending in `/`; '' if it is missing. */
async function realDocroot(root: string): Promise<string> {
  try {
    const resolved = await realPath(root);
    return resolved.endsWith('/') ? resolved : `${resolved}/`;
  } catch {
    return '';
  }
}
