import { readFile, stat } from 'node:fs/promises';
import type { Logger } from '../log.js';

/**
 * A user file of mod_authn_file (plain, htpasswd, htdigest), read again whenever it changes:
 * lighttpd reads it on every request, so an edited or replaced file takes effect at once.
 * Here each request costs a stat(); the content is read only when inode, size, mtime or
 * ctime moved. What lighttpd reads is kept: lines up to 1,024 bytes, none starting with `#`
 * or blank, nothing after a NUL byte, files up to 64 MiB. Text is held as latin1 byte strings
 * (one character per byte), as user names and passwords are compared byte for byte.
 */
export interface UserFileLine {
  /** The line without its `\n` (a trailing `\r` is the caller's to drop, as fields differ). */
  text: string;
  /** 1-based, for messages. */
  number: number;
}

const MAX_FILE = 64 * 1024 * 1024;
const MAX_LINE = 1024;

export class UserFile {
  #version = '';
  #lines: UserFileLine[] | undefined;
  #loading: Promise<UserFileLine[] | undefined> | undefined;
  #parsed = new Map<string, unknown>();
  #failure = '';

  constructor(
    readonly path: string,
    private readonly log: Logger,
  ) {}

  /** The lines lighttpd would read now, or undefined when the file cannot be read (logged once per failure). */
  async lines(): Promise<UserFileLine[] | undefined> {
    this.#loading ??= this.#load().finally(() => {
      this.#loading = undefined;
    });
    return this.#loading;
  }

  /**
   * `parse` of the current lines, computed once per version of the file. Problems it reports
   * through `complain` are logged once per version, not once per request.
   */
  async parsed<T>(
    kind: string,
    parse: (lines: UserFileLine[], complain: (why: string) => void) => T,
  ): Promise<T | undefined> {
    const lines = await this.lines();
    if (!lines) return undefined;
    if (!this.#parsed.has(kind)) {
      const complaints = new Set<string>();
      this.#parsed.set(
        kind,
        parse(lines, (why) => complaints.add(why)),
      );
      for (const why of complaints) this.log.error('mod_authn_file', why);
    }
    return this.#parsed.get(kind) as T;
  }

  async #load(): Promise<UserFileLine[] | undefined> {
    let version: string;
    try {
      const info = await stat(this.path);
      if (!info.isFile()) return this.#fail(`${this.path} is not a file`);
      if (info.size > MAX_FILE) return this.#fail(`${this.path} is larger than 64 MiB`);
      version = `${info.dev}:${info.ino}:${info.size}:${info.mtimeMs}:${info.ctimeMs}`;
    } catch (error) {
      return this.#fail(`opening ${this.path} failed: ${(error as NodeJS.ErrnoException).code ?? error}`);
    }
    if (version === this.#version && this.#lines) return this.#lines;
    let content: string;
    try {
      content = (await readFile(this.path)).toString('latin1');
    } catch (error) {
      return this.#fail(`reading ${this.path} failed: ${(error as NodeJS.ErrnoException).code ?? error}`);
    }
    this.#failure = '';
    this.#version = version;
    this.#lines = splitLines(content);
    this.#parsed.clear();
    return this.#lines;
  }

  #fail(why: string): undefined {
    if (why !== this.#failure) this.log.error('mod_authn_file', why);
    this.#failure = why;
    this.#version = '';
    this.#lines = undefined;
    this.#parsed.clear();
    return undefined;
  }
}

/** lighttpd's loop over the file: a NUL ends it; blank, comment and over-long lines are skipped. */
export function splitLines(content: string): UserFileLine[] {
  const nul = content.indexOf('\0');
  const text = nul >= 0 ? content.slice(0, nul) : content;
  const lines: UserFileLine[] = [];
  let number = 0;
  for (const line of text.split('\n')) {
    number++;
    if (line === '' || line[0] === '\r' || line[0] === '#' || line.length > MAX_LINE) continue;
    lines.push({ text: line, number });
  }
  return lines;
}

/** A trailing `\r` is not part of the last field (files written on Windows). */
export function withoutCr(field: string): string {
  return field.endsWith('\r') ? field.slice(0, -1) : field;
}
