/**
 * deflate.cache-dir: a static file compressed once and kept on disk, as lighttpd 1.4.69 keeps
 * it: `<cache-dir><file's path>-<ETag without quotes>` (`/var/cache/lighttpd/compress/var/www/
 * app.css-1427504641-gzip`), files 0600 in directories 0700. The ETag is the file's own (inode,
 * size and mtime hashed) with the coding appended, so a changed file has a new name and an old
 * copy is never sent for it; old copies stay until someone removes them, as with lighttpd. A
 * copy is written under a temporary name and renamed into place, so no reader sees half of it
 * (other processes, --workers, lighttpd itself sharing the directory included), and it is kept
 * only if the file still has the ETag it was compressed for when compression ends.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type FileInfo, fileInfo, forgetFile, lighttpdEtag } from './file-info.js';
import { FileStream } from './file-stream.js';

export class CompressCache {
  readonly #filling = new Map<string, Promise<FileInfo | undefined>>();

  /** @param dir the cache directory, without a trailing slash */
  constructor(readonly dir: string) {}

  /** Where the copy of `file` with this (coding-tagged) ETag lives. */
  pathFor(file: FileInfo, taggedEtag: string): string {
    return `${this.dir}${file.path}-${taggedEtag.slice(1, -1)}`;
  }

  /** The copy, if one is there (through the stat cache, like any file). */
  async lookup(path: string): Promise<FileInfo | undefined> {
    try {
      const info = await fileInfo(path);
      return info.isFile ? info : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Compresses `file` into `path` with a fresh compressor; resolves with the copy, or
   * undefined when the file changed meanwhile. Requests for the same copy while it is being
   * made wait for the same work. Rejects when the disk refuses (the caller compresses on the fly).
   */
  fill(path: string, file: FileInfo, compressor: () => Transform): Promise<FileInfo | undefined> {
    let filling = this.#filling.get(path);
    if (!filling) {
      filling = this.#write(path, file, compressor()).finally(() => this.#filling.delete(path));
      this.#filling.set(path, filling);
    }
    return filling;
  }

  async #write(path: string, file: FileInfo, compressor: Transform): Promise<FileInfo | undefined> {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    const temporary = `${path}.${process.pid}-${randomBytes(4).toString('hex')}`;
    const out = await open(temporary, 'wx', 0o600);
    let kept = false;
    try {
      await pipeline(new FileStream(file.path, 0, file.size - 1), compressor, out.createWriteStream());
      if ((await currentEtag(file.path)) !== file.etag) return undefined;
      await rename(temporary, path);
      kept = true;
    } finally {
      await out.close().catch(() => {});
      if (!kept) await unlink(temporary).catch(() => {});
    }
    // The stat cache may remember the copy as missing from the lookup a moment ago.
    forgetFile(path);
    return this.lookup(path);
  }
}

/** The file's ETag now, not as the stat cache remembers it. */
async function currentEtag(path: string): Promise<string | undefined> {
  try {
    const st = await stat(path, { bigint: true });
    return lighttpdEtag(st.ino, st.size, st.mtimeNs / 1_000_000_000n, st.mtimeNs % 1_000_000_000n);
  } catch {
    return undefined;
  }
}
