import { type BigIntStats, promises as fs } from 'node:fs';
import { forgetRealPaths } from './real-path.js';

/**
 * What the server knows about a file: lighttpd's stat cache. Entries are trusted for one
 * second (lighttpd's own default), so a busy file costs one stat a second, not one a request;
 * small files also keep their bytes, so a 1 KiB download is one memory copy, no open/read/close.
 */
export interface FileInfo {
  readonly path: string;
  readonly isFile: boolean;
  readonly isDirectory: boolean;
  readonly size: number;
  readonly mtimeMs: number;
  /** lighttpd's ETag, quoted (spec 1.4). */
  readonly etag: string;
  /** IMF-fixdate of the mtime. */
  readonly lastModified: string;
  /** The file's bytes, for regular files up to SMALL_FILE bytes; read on first use. */
  content?: Buffer;
}

export class FileError extends Error {
  constructor(
    readonly code: string,
    readonly path: string,
  ) {
    super(`${code}: ${path}`);
  }
  /** 404 for a missing file, 403 for every other failure (permissions, loops, name too long). */
  get status(): number {
    return this.code === 'ENOENT' ? 404 : 403;
  }
}

const TRUST_MS = 1000;
const SMALL_FILE = 64 * 1024;
const MAX_ENTRIES = 10_000;

interface Entry {
  at: number;
  info?: FileInfo;
  error?: FileError;
}

const cache = new Map<string, Entry>();

/** stat(2) through the cache; rejects with FileError (ENOENT, ENOTDIR, EACCES, …). */
export async function fileInfo(path: string): Promise<FileInfo> {
  const now = Date.now();
  const held = cache.get(path);
  if (held && now - held.at < TRUST_MS) {
    if (held.error) throw held.error;
    return held.info!;
  }
  const entry: Entry = { at: now };
  try {
    const st = await fs.stat(path, { bigint: true });
    const previous = held?.info;
    const info = toFileInfo(path, st);
    // Unchanged file: keep the bytes already read.
    if (previous?.content && previous.etag === info.etag) info.content = previous.content;
    entry.info = info;
  } catch (err) {
    entry.error = new FileError((err as NodeJS.ErrnoException).code ?? 'EIO', path);
  }
  if (cache.size >= MAX_ENTRIES) cache.clear();
  cache.set(path, entry);
  if (entry.error) throw entry.error;
  return entry.info!;
}

/** The bytes of a small regular file (cached with its FileInfo), or undefined for a large one. */
export async function smallFileContent(info: FileInfo): Promise<Buffer | undefined> {
  if (!info.isFile || info.size > SMALL_FILE) return undefined;
  if (info.content) return info.content;
  const bytes = await fs.readFile(info.path);
  // The file changed between stat and read: serve nothing from memory, let the stream path cope.
  if (bytes.length !== info.size) return undefined;
  info.content = bytes;
  return bytes;
}

function toFileInfo(path: string, st: BigIntStats): FileInfo {
  const mtimeSec = st.mtimeNs / 1_000_000_000n;
  const mtimeNsec = st.mtimeNs % 1_000_000_000n;
  return {
    path,
    isFile: st.isFile(),
    isDirectory: st.isDirectory(),
    size: Number(st.size),
    mtimeMs: Number(st.mtimeMs),
    etag: lighttpdEtag(st.ino, st.size, mtimeSec, mtimeNsec),
    lastModified: new Date(Number(mtimeSec) * 1000).toUTCString(),
  };
}

/**
 * lighttpd's ETag: inode, size, mtime seconds and nanoseconds as four little-endian u64, hashed
 * with h = (h << 5) ^ (h >> 27) ^ byte from h = 32 (the byte count), printed as decimal.
 */
export function lighttpdEtag(ino: bigint, size: bigint, mtimeSec: bigint, mtimeNsec: bigint): string {
  const bytes = Buffer.alloc(32);
  bytes.writeBigUInt64LE(BigInt.asUintN(64, ino), 0);
  bytes.writeBigUInt64LE(BigInt.asUintN(64, size), 8);
  bytes.writeBigUInt64LE(BigInt.asUintN(64, mtimeSec), 16);
  bytes.writeBigUInt64LE(BigInt.asUintN(64, mtimeNsec), 24);
  let h = 32;
  for (const c of bytes) h = ((h << 5) ^ (h >>> 27) ^ c) >>> 0;
  return `"${h}"`;
}

/** Forget what is known about a path, and every resolved symlink (tests that rewrite files use it). */
export function forgetFile(path?: string): void {
  if (path === undefined) cache.clear();
  else cache.delete(path);
  forgetRealPaths();
}
