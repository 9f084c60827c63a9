/**
 * A body held until it is complete: in memory up to a limit, then in temporary files in
 * lighttpd's `server.upload-dirs`. A chunked request body is spooled so php-cgi gets a
 * CONTENT_LENGTH; with `server.stream-response-body = 0` a backend's whole answer is, so it
 * can be sent with Content-Length and cut by Range. Either may be a gigabyte: past the limit
 * nothing more stays in memory, and reading it back is paced by its reader.
 *
 * The directories are tried in order, as lighttpd does (chunk.c): one where no file can be
 * made is skipped, and one that fills up (ENOSPC) hands on to the next. Unlike lighttpd's
 * `lighttpd-upload-XXXXXX`, each file is unlinked as soon as it is open: nobody else can open
 * it, and it is gone with its descriptor, even when the process is killed.
 */
import { randomBytes } from 'node:crypto';
import { type FileHandle, open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { noteBodyBytes } from './body-garbage.js';

/** No directory could take the body (missing, read-only, full): the request gets a 500. */
export class SpoolFailed extends Error {
  override readonly name = 'SpoolFailed';
  readonly status = 500;
  readonly code = 'ESPOOL';
}

/** lighttpd's default when `server.upload-dirs` is unset: $TMPDIR, else /var/tmp. */
export function defaultUploadDirs(): string[] {
  return [process.env.TMPDIR || '/var/tmp'];
}

/** Bytes per read(2) when a spooled body is read back. */
const READ_CHUNK = 256 * 1024;

interface Segment {
  file: FileHandle;
  dir: string;
  length: number;
}

export class Spool {
  /** Bytes appended so far. */
  length = 0;
  private memory: Buffer[] = [];
  private whole: Buffer | undefined;
  private readonly segments: Segment[] = [];
  private dirIndex = 0;
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly dirs: readonly string[],
    private readonly memoryLimit: number,
    /** Start of the temporary files' names (seen in /proc/PID/fd while they are open). */
    private readonly prefix: string,
  ) {}

  /** Adds a chunk; resolves once it is held (in memory, or written), so a loop over it is paced by the disk. */
  async append(chunk: Buffer): Promise<void> {
    if (this.closed) throw new SpoolFailed('the spool was closed');
    if (this.segments.length === 0 && this.length + chunk.length <= this.memoryLimit) {
      this.memory.push(chunk);
      this.length += chunk.length;
      return;
    }
    this.length += chunk.length;
    if (this.segments.length === 0) {
      const held = this.memory;
      this.memory = [];
      await this.openSegment();
      for (const buffer of held) await this.writeAll(buffer);
    }
    await this.writeAll(chunk);
  }

  /** The whole body when it stayed in memory; undefined once it went to a file. */
  inMemory(): Buffer | undefined {
    if (this.segments.length > 0) return undefined;
    this.whole ??= Buffer.concat(this.memory, this.length);
    this.memory = [this.whole];
    return this.whole;
  }

  /** Bytes start..end (inclusive), as a Buffer from memory or a stream from the files. */
  read(start: number, end: number): Buffer | Readable {
    const whole = this.inMemory();
    if (whole) return whole.subarray(start, end + 1);
    return Readable.from(this.readFiles(start, end), { objectMode: false });
  }

  /** Closes the files (already unlinked: their space is free once closed). Idempotent. */
  close(): Promise<void> {
    this.closed = true;
    this.memory = [];
    this.whole = undefined;
    this.closing ??= Promise.all(this.segments.map((s) => s.file.close().catch(() => {}))).then(() => {});
    return this.closing;
  }

  private async openSegment(): Promise<void> {
    let failure = 'no directory to spool to';
    for (; this.dirIndex < this.dirs.length; this.dirIndex++) {
      const dir = this.dirs[this.dirIndex]!;
      const path = join(dir, `${this.prefix}${process.pid}-${randomBytes(6).toString('hex')}`);
      let file: FileHandle;
      try {
        file = await open(path, 'wx+', 0o600);
      } catch (error) {
        failure = `${path}: ${(error as Error).message}`;
        continue;
      }
      try {
        await unlink(path);
      } catch (error) {
        await file.close().catch(() => {});
        failure = `${path}: ${(error as Error).message}`;
        continue;
      }
      if (this.closed) {
        await file.close().catch(() => {});
        throw new SpoolFailed('the spool was closed');
      }
      this.segments.push({ file, dir, length: 0 });
      return;
    }
    throw new SpoolFailed(`opening a temporary file failed: ${failure}`);
  }

  private async writeAll(buffer: Buffer): Promise<void> {
    let offset = 0;
    while (offset < buffer.length) {
      const segment = this.segments.at(-1)!;
      try {
        const { bytesWritten } = await segment.file.write(
          buffer,
          offset,
          buffer.length - offset,
          segment.length,
        );
        segment.length += bytesWritten;
        offset += bytesWritten;
      } catch (error) {
        const full = (error as NodeJS.ErrnoException).code === 'ENOSPC';
        if (this.closed) throw new SpoolFailed('the spool was closed');
        if (!full || this.dirIndex + 1 >= this.dirs.length)
          throw new SpoolFailed(
            `writing a temporary file in ${segment.dir} failed: ${(error as Error).message}`,
          );
        this.dirIndex++;
        await this.openSegment();
      }
    }
  }

  private async *readFiles(start: number, end: number): AsyncGenerator<Buffer> {
    let segmentStart = 0;
    for (const segment of this.segments) {
      const segmentEnd = segmentStart + segment.length - 1;
      let at = Math.max(start, segmentStart);
      const last = Math.min(end, segmentEnd);
      while (at <= last) {
        // Closed with the response (the client left): the reader is being destroyed too.
        if (this.closed) return;
        const want = Math.min(READ_CHUNK, last - at + 1);
        const buffer = Buffer.allocUnsafeSlow(want);
        const { bytesRead } = await segment.file.read(buffer, 0, want, at - segmentStart);
        if (bytesRead === 0) throw new SpoolFailed('a temporary file ended before its length');
        noteBodyBytes(bytesRead);
        at += bytesRead;
        yield bytesRead === want ? buffer : buffer.subarray(0, bytesRead);
      }
      segmentStart += segment.length;
      if (segmentStart > end) return;
    }
  }
}
