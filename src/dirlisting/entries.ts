import { promises as fs } from 'node:fs';
import type { ListedEntry } from './page.js';

/** Which entries a listing leaves out (dir-listing.hide-dotfiles, hide-*-file, exclude). */
export interface EntryFilter {
  hideDotfiles: boolean;
  /** Names never listed: the readme and header files when hide-readme-file / hide-header-file say so. */
  hiddenNames: readonly Buffer[];
  /** A name matching any is left out. */
  exclude: readonly RegExp[];
}

export interface DirectoryEntries {
  dirs: ListedEntry[];
  files: ListedEntry[];
}

/** stat(2) calls in flight for one listing: a huge directory must not take every thread of libuv's pool. */
const STAT_BATCH = 32;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The entries of a directory as lighttpd lists them: `.` and `..` never, names starting with
 * `.` only when hide-dotfiles is off; each entry stat'ed through symlinks (a link to a
 * directory is a directory), and one that cannot be stat'ed (a dangling link, a file removed
 * meanwhile) left out. Directories and files are each sorted by their bytes (C's strcmp, so
 * `Z` before `_` before `a`). Rejects when the directory itself cannot be read.
 */
export async function readEntries(directory: string, filter: EntryFilter): Promise<DirectoryEntries> {
  const dirPath = Buffer.from(directory, 'utf8');
  const names = (await fs.readdir(dirPath, { encoding: 'buffer' })).filter((name) => listed(name, filter));
  const dirs: ListedEntry[] = [];
  const files: ListedEntry[] = [];
  for (let at = 0; at < names.length; at += STAT_BATCH) {
    const batch = names.slice(at, at + STAT_BATCH);
    const stats = await Promise.all(
      batch.map((name) => fs.stat(Buffer.concat([dirPath, name])).catch(() => undefined)),
    );
    stats.forEach((st, i) => {
      if (!st) return;
      const entry = { name: batch[i]!, mtime: Math.floor(st.mtimeMs / 1000), size: st.size };
      (st.isDirectory() ? dirs : files).push(entry);
    });
  }
  const byName = (a: ListedEntry, b: ListedEntry) => Buffer.compare(a.name, b.name);
  return { dirs: dirs.sort(byName), files: files.sort(byName) };
}

function listed(name: Buffer, filter: EntryFilter): boolean {
  if (name[0] === 0x2e) {
    if (filter.hideDotfiles) return false;
    if (name.length === 1 || (name.length === 2 && name[1] === 0x2e)) return false;
  }
  if (filter.hiddenNames.some((hidden) => hidden.equals(name))) return false;
  return filter.exclude.length === 0 || !excluded(name, filter.exclude);
}

/**
 * lighttpd matches the regexes in PCRE2's UTF mode: a name that is not valid UTF-8 makes the
 * match fail with an error, and lighttpd then leaves the name out ("fail closed"). So does this.
 */
function excluded(name: Buffer, exclude: readonly RegExp[]): boolean {
  let text: string;
  try {
    text = utf8.decode(name);
  } catch {
    return true;
  }
  return exclude.some((regex) => text.search(regex) !== -1);
}
