/**
 * server.upload-dirs: the directories a body is spooled to (src/http/spool.ts). lighttpd
 * checks each at start and only logs one that is missing or is not a directory (configfile.c);
 * the server starts, the directory is skipped per request, and a body with nowhere to go is a
 * 500. koa-lighty does the same, with the file and line in the warning, and also names a
 * directory it cannot write to.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { defaultUploadDirs } from '../http/spool.js';
import type { OptionReader } from './option-reader.js';

const KEY = 'server.upload-dirs';

/** The configured directories, resolved; undefined when unset or `()` (lighttpd's default then). */
export function uploadDirs(r: OptionReader): string[] | undefined {
  if (!r.has(KEY)) return undefined;
  const dirs = r.list(KEY);
  if (dirs.some((dir) => dir === '')) throw r.error(KEY, 'an empty string is not a directory');
  return dirs.length > 0 ? dirs.map((dir) => resolve(dir)) : undefined;
}

/** One warning per directory that cannot take a temporary file, at the option's line. */
export function uploadDirsWarnings(r: OptionReader): string[] {
  const configured = uploadDirs(r);
  const at = r.where(KEY);
  const where = configured
    ? `${at.file}:${at.line}: ${KEY}`
    : `${at.file}: ${KEY} (unset, so $TMPDIR or /var/tmp)`;
  const warnings: string[] = [];
  for (const dir of configured ?? defaultUploadDirs()) {
    const problem = unusable(dir);
    if (problem)
      warnings.push(`${where}: ${dir} ${problem}; chunked uploads skip it (500 when no directory is left)`);
  }
  return warnings;
}

function unusable(dir: string): string | undefined {
  let isDirectory: boolean;
  try {
    isDirectory = statSync(dir).isDirectory();
  } catch {
    return 'does not exist';
  }
  if (!isDirectory) return 'is not a directory';
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch {
    return 'is not writable';
  }
  return undefined;
}
