import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { dirname } from 'node:path';
import { lighttpdEtag } from '../http/file-info.js';

/**
 * dir-listing.cache as lighttpd 1.4.69 keeps it: each listing is written to
 * `<path><physical directory>dirlist.html` (directories made 0700, the file 0600, written to a
 * temporary name and renamed into place) and served from there, unchanged, while it is younger
 * than max-age seconds. A change in the directory shows once the entry is that old; deleting
 * the file refreshes it at once. The key is the directory alone: every option set that lists
 * the same directory shares its entry, as in lighttpd.
 */
export interface ListingCache {
  /** An existing directory the entries go under. */
  path: string;
  /** Seconds an entry is served (lighttpd's default 15). */
  maxAge: number;
}

export interface CachedListing {
  body: Buffer;
  /** Seconds the entry has left: the answer's Cache-Control max-age. */
  maxAge: number;
  /** lighttpd's ETag of the cache file. */
  etag: string;
}

export function cacheFile(cache: ListingCache, physicalDirectory: string): string {
  return `${cache.path.replace(/\/+$/, '')}${physicalDirectory}dirlist.html`;
}

/** The entry for the directory, if it is there and young enough. */
export async function readCached(
  cache: ListingCache,
  physicalDirectory: string,
): Promise<CachedListing | undefined> {
  const file = cacheFile(cache, physicalDirectory);
  try {
    const st = await fs.stat(file, { bigint: true });
    if (!st.isFile()) return undefined;
    const left = Number(st.mtimeNs / 1_000_000_000n) + cache.maxAge - Math.floor(Date.now() / 1000);
    if (left < 0) return undefined;
    const body = await fs.readFile(file);
    // Rewritten between the stat and the read: its bytes are newer than the stat says.
    if (BigInt(body.length) !== st.size) return undefined;
    return { body, maxAge: left, etag: etagOf(st) };
  } catch {
    return undefined;
  }
}

/**
 * Stores a fresh listing; its ETag, or undefined when it could not be stored (the answer
 * then goes out without Cache-Control and ETag, as lighttpd's does). Only the directories
 * below cache.path are made: a missing cache.path disables the cache.
 */
export async function writeCached(
  cache: ListingCache,
  physicalDirectory: string,
  body: Buffer,
): Promise<string | undefined> {
  const file = cacheFile(cache, physicalDirectory);
  const temporary = `${file}.${randomBytes(4).toString('base64url').slice(0, 6)}`;
  try {
    if (!(await fs.stat(cache.path)).isDirectory()) return undefined;
    await fs.mkdir(dirname(file), { recursive: true, mode: 0o700 });
    const handle = await fs.open(temporary, 'wx', 0o600);
    let etag: string;
    try {
      await handle.writeFile(body);
      etag = etagOf(await handle.stat({ bigint: true }));
    } finally {
      await handle.close();
    }
    await fs.rename(temporary, file);
    return etag;
  } catch {
    await fs.unlink(temporary).catch(() => {});
    return undefined;
  }
}

function etagOf(st: import('node:fs').BigIntStats): string {
  return lighttpdEtag(st.ino, st.size, st.mtimeNs / 1_000_000_000n, st.mtimeNs % 1_000_000_000n);
}
