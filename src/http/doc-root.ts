import { resolve } from 'node:path';
import { FileError, fileInfo } from './file-info.js';

/**
 * Document roots as lighttpd spells them. lighttpd keeps a configured root as written, so a
 * trailing slash shows in DOCUMENT_ROOT (`server.document-root = "/srv/www/"` gives
 * `/srv/www/`, and a vhost's root always ends in one), and joins a root and a path with one
 * slash between them (buffer_append_path_len).
 */

/** An absolute root, normalised, keeping the trailing slash it was written with. */
export function spelledRoot(root: string): string {
  const absolute = resolve(root);
  return root.endsWith('/') && absolute !== '/' ? `${absolute}/` : absolute;
}

/** `a` + `b` with exactly one slash at the seam (lighttpd's buffer_append_path_len). */
export function joinPath(a: string, b: string): string {
  if (a === '') return b.startsWith('/') ? b : `/${b}`;
  const slashA = a.endsWith('/');
  const slashB = b.startsWith('/');
  if (slashA && slashB) return a + b.slice(1);
  return slashA || slashB ? a + b : `${a}/${b}`;
}

/** With a trailing slash (lighttpd's buffer_append_slash; '' stays ''). */
export function withSlash(path: string): string {
  return path === '' || path.endsWith('/') ? path : `${path}/`;
}

const REASONS: Record<string, string> = {
  ENOENT: 'No such file or directory',
  ENOTDIR: 'Not a directory',
  EACCES: 'Permission denied',
  ELOOP: 'Too many levels of symbolic links',
  ENAMETOOLONG: 'File name too long',
};

/**
 * Why `path` is no directory (as lighttpd logs it: strerror), or undefined when it is one.
 * Through the stat cache: a vhost root costs one stat a second, not one a request.
 */
export async function notADirectory(path: string): Promise<string | undefined> {
  if (path === '') return REASONS.ENOENT;
  try {
    return (await fileInfo(path)).isDirectory ? undefined : REASONS.ENOTDIR;
  } catch (error) {
    if (!(error instanceof FileError)) throw error;
    return REASONS[error.code] ?? error.code;
  }
}
