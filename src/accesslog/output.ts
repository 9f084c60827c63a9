/**
 * Where access log lines go: a file opened for appending, or, for a name starting with `|`, a
 * program's standard input, as lighttpd does (fdlog_maint.c): `/bin/sh -c PROGRAM` with stdout
 * and stderr on /dev/null, started again when it exits (at most once every 5 seconds). Lines
 * written while it is down wait, up to 64 KiB (a pipe's buffer in lighttpd), then are dropped.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, createWriteStream, openSync } from 'node:fs';
import type { Logger } from '../log.js';
import { OptionError } from '../option-error.js';

export interface LogOutput {
  write(line: Buffer): void;
  close(): Promise<void>;
}

/**
 * The file or pipe behind an accesslog.filename. A file that cannot be opened is an
 * OptionError for the `output` option (a start-up error, as in lighttpd).
 */
export function openLogOutput(name: string, log: Logger): LogOutput {
  if (name.startsWith('|')) return new LogPipe(name.slice(1), log);
  try {
    return logFile(name, log);
  } catch (error) {
    throw new OptionError(
      'ERR_ACCESSLOG_OPEN',
      'output',
      `opening log '${name}' failed: ${(error as Error).message}`,
    );
  }
}

/**
 * The log files open now (access logs and server.errorlog), for reopenLogFiles(): logrotate
 * renames a file, then sends SIGHUP, and the lines after it belong in a new file.
 */
const openFiles = new Set<{ reopen(): void }>();

/**
 * SIGHUP: every open log file is opened again by its name (a renamed one is created anew);
 * lines written before go on to the old file. Pipes (`|program`) are left alone, as in
 * lighttpd (fdlog_files_cycle). Returns how many files were reopened.
 */
export function reopenLogFiles(): number {
  for (const file of openFiles) file.reopen();
  return openFiles.size;
}

function logFile(path: string, log: Logger): LogOutput {
  let failed = false;
  const open = () => {
    // Opened now, so a wrong path is a start-up error, not a crash at the first request.
    const fd = openSync(path, 'a', 0o644);
    const stream = createWriteStream(path, { fd, autoClose: false });
    stream.on('error', (error) => {
      if (!failed) log.error('accesslog', `writing ${path} failed: ${error.message}`);
      failed = true;
    });
    return { fd, stream };
  };
  const finish = (file: { fd: number; stream: ReturnType<typeof createWriteStream> }) =>
    new Promise<void>((resolve) => {
      file.stream.end(() => {
        closeSync(file.fd);
        resolve();
      });
    });
  let current = open();
  const handle = {
    reopen: () => {
      let next: typeof current;
      try {
        next = open();
      } catch (error) {
        // The old file stays in use: losing lines is worse than writing them to the old name.
        log.error('accesslog', `reopening ${path} failed: ${(error as Error).message}`);
        return;
      }
      const previous = current;
      current = next;
      failed = false;
      void finish(previous);
    },
  };
  openFiles.add(handle);
  return {
    write: (line) => {
      if (!failed) current.stream.write(line);
    },
    close: () => {
      openFiles.delete(handle);
      return finish(current);
    },
  };
}

const RESTART_INTERVAL_MS = 5000;
const PIPE_BUFFER = 65_536;

class LogPipe implements LogOutput {
  #child?: ChildProcess;
  #startedAt = 0;
  #waiting: Buffer[] = [];
  #waitingBytes = 0;
  #restart?: NodeJS.Timeout;
  #closed = false;
  #dropped = false;

  constructor(
    private readonly command: string,
    private readonly log: Logger,
  ) {
    this.#start();
  }

  write(line: Buffer): void {
    const stdin = this.#child?.stdin;
    if (stdin?.writable && stdin.writableLength < PIPE_BUFFER) {
      stdin.write(line);
      return;
    }
    if (this.#waitingBytes + line.length > PIPE_BUFFER) {
      if (!this.#dropped) this.log.error('accesslog', `|${this.command} does not keep up: dropping lines`);
      this.#dropped = true;
      return;
    }
    this.#waiting.push(line);
    this.#waitingBytes += line.length;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#restart);
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    // End of input is what makes a log program finish its work and exit.
    child.stdin?.end();
    const timer = setTimeout(() => {
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGTERM');
    }, RESTART_INTERVAL_MS);
    await exited;
    clearTimeout(timer);
  }

  #start(): void {
    this.#startedAt = Date.now();
    const child = spawn('/bin/sh', ['-c', this.command], { stdio: ['pipe', 'ignore', 'ignore'] });
    this.#child = child;
    // EPIPE when the program has gone: its exit restarts it.
    child.stdin!.on('error', () => {});
    child.on('error', (error) => this.log.error('accesslog', `|${this.command}: ${error.message}`));
    child.once('exit', (code, signal) => {
      if (this.#closed) return;
      const delay = Math.max(0, this.#startedAt + RESTART_INTERVAL_MS - Date.now());
      this.log.error(
        'accesslog',
        `|${this.command} exited (${signal ?? `code ${code}`}); starting it again in ${Math.ceil(delay / 1000)} s`,
      );
      this.#restart = setTimeout(() => {
        this.#start();
        this.#flushWaiting();
      }, delay);
      this.#restart.unref();
    });
    this.#flushWaiting();
  }

  #flushWaiting(): void {
    const lines = this.#waiting;
    this.#waiting = [];
    this.#waitingBytes = 0;
    this.#dropped = false;
    for (const line of lines) this.write(line);
  }
}
