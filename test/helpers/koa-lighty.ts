/**
 * Runs the `koa-lighty` command exactly as a user does: `node bin/koa-lighty.js -f FILE` as a
 * child process, on a free port of 127.0.0.1, stopped by its pid. bin/ runs the compiled code
 * in dist/, which `npm test` (and `npm run build`) produce before ava starts.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { onFreePort } from './ports.js';

export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = join(PACKAGE_ROOT, 'bin', 'koa-lighty.js');
const COMPILED_CLI = join(PACKAGE_ROOT, 'dist', 'server', 'cli.js');

export interface StartKoaLightyOptions {
  /**
   * The lighttpd.conf: either its text, where the word `PORT` stands for the free port picked
   * here (the text is written to a temp dir), or the path of an existing file (used as is).
   * Without it koa-lighty serves its demo site, on the picked port (KOA_LIGHTY_DEMO_PORT).
   */
  conf?: string;
  /** More command-line arguments (after `-f FILE`). */
  args?: string[];
  /** Added to the environment of the child. */
  env?: Record<string, string>;
  /** How long to wait for the "listening on" line (ms, default 20 s). */
  timeoutMs?: number;
  /** Descriptors of this process handed to the child as its fd 3, 4, … (socket activation). */
  passFds?: number[];
}

export interface RunningKoaLighty {
  port: number;
  /** `http://127.0.0.1:PORT` */
  url: string;
  pid: number;
  /** The config file koa-lighty was started with (undefined for the demo). */
  confFile: string | undefined;
  /** Everything it printed so far, stdout and stderr interleaved as received. */
  output(): string;
  /** SIGTERM, then SIGKILL after 5 s; resolves to the exit code (128 + n for a signal). */
  stop(): Promise<number>;
}

export function assertBuilt(): void {
  if (!existsSync(COMPILED_CLI)) throw new Error(`${COMPILED_CLI} is missing: run npm run build first`);
}

const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + (SIGNAL_NUMBERS[signal ?? ''] ?? 0);
}

/** Treats `conf` as a path when it is one line naming an existing file. */
function isPath(conf: string): boolean {
  return !conf.includes('\n') && existsSync(conf);
}

export async function startKoaLighty(options: StartKoaLightyOptions = {}): Promise<RunningKoaLighty> {
  assertBuilt();
  return onFreePort((port) => launch(options, port));
}

async function launch(options: StartKoaLightyOptions, port: number): Promise<RunningKoaLighty> {
  let dir: string | undefined;
  let confFile: string | undefined;
  if (options.conf !== undefined) {
    if (isPath(options.conf)) confFile = options.conf;
    else {
      dir = mkdtempSync(join(tmpdir(), 'koa-lighty-e2e-'));
      confFile = join(dir, 'lighttpd.conf');
      writeFileSync(confFile, options.conf.replace(/\bPORT\b/g, String(port)));
    }
  }
  const argv = [BIN, ...(confFile ? ['-f', confFile] : []), ...(options.args ?? [])];
  const child = spawn(process.execPath, argv, {
    cwd: PACKAGE_ROOT,
    env: { ...process.env, KOA_LIGHTY_DEMO_PORT: String(port), ...options.env },
    stdio: ['ignore', 'pipe', 'pipe', ...(options.passFds ?? [])],
  });
  let output = '';
  let stdout = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    stdout += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number>((resolve) =>
    child.once('exit', (code, signal) => resolve(exitCodeOf(code, signal))),
  );
  const removeDir = () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  };

  const timeoutMs = options.timeoutMs ?? 20_000;
  let listeningPort: number;
  try {
    listeningPort = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`koa-lighty did not print "listening on" within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      const check = () => {
        const match = /listening on http:\/\/[^\s:]+:(\d+)/.exec(stdout) ?? /listening on unix:/.exec(stdout);
        if (!match) return;
        clearTimeout(timer);
        child.stdout!.off('data', check);
        // Start-up warnings went to stderr before this line went to stdout, but when both pipes
        // are read in one turn of the event loop, a test resumed from here would run before
        // stderr is read. setImmediate waits out that turn.
        setImmediate(() => resolve(match[1] ? Number(match[1]) : port));
      };
      child.stdout!.on('data', check);
      // 'close', not 'exit': by then its last words are read (onFreePort looks for "in use").
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`koa-lighty exited with ${exitCodeOf(code, signal)} before listening`));
      });
    });
  } catch (err) {
    await stopChild(child, exited);
    removeDir();
    throw new Error(`${(err as Error).message}\n--- its output ---\n${output}`);
  }

  return {
    port: listeningPort,
    url: `http://127.0.0.1:${listeningPort}`,
    pid: child.pid!,
    confFile,
    output: () => output,
    async stop() {
      const code = await stopChild(child, exited);
      removeDir();
      return code;
    },
  };
}

async function stopChild(child: ChildProcess, exited: Promise<number>): Promise<number> {
  if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
    process.kill(child.pid, 'SIGTERM');
    const timer = setTimeout(() => {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL');
    }, 5000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  }
  return exited;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `koa-lighty ARGS` to completion (killed after timeoutMs, default 20 s). */
export function runCli(
  args: string[],
  options: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<CliResult> {
  assertBuilt();
  return runCommand(process.execPath, [BIN, ...args], { ...options, label: `koa-lighty ${args.join(' ')}` });
}

/** Runs a command in the package root to completion, collecting its output (killed after timeoutMs, default 20 s). */
export function runCommand(
  command: string,
  args: string[],
  options: { env?: Record<string, string>; timeoutMs?: number; label?: string } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: PACKAGE_ROOT,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timeoutMs = options.timeoutMs ?? 20_000;
    const label = options.label ?? [command, ...args].join(' ');
    const timer = setTimeout(() => {
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
      reject(new Error(`${label} did not exit within ${timeoutMs / 1000} s\n${stdout}${stderr}`));
    }, timeoutMs);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      // 'exit' may come before the pipes are drained: wait for 'close'.
      child.once('close', () => resolve({ code: exitCodeOf(code, signal), stdout, stderr }));
    });
  });
}

/** The pids of every live descendant of `pid` (children, their children, …), from /proc. */
export function descendantPids(pid: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid …: comm may contain spaces and parentheses, so split after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parents.set(Number(entry), Number(fields[1]));
    } catch {
      // the process ended while we looked
    }
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    for (const [child, ppid] of parents) {
      if (ppid === parent && !found.includes(child)) {
        found.push(child);
        queue.push(child);
      }
    }
  }
  return found;
}

/** The command name of a live process (`php-cgi`), or undefined when it is gone (or a zombie). */
/**
 * Whether pid runs the same Node binary as this test process. By executable, not by name:
 * Node 24 names its main thread "MainThread", Node 20 leaves it "node".
 */
export function isNodeProcess(pid: number): boolean {
  try {
    return readlinkSync(`/proc/${pid}/exe`) === realpathSync(process.execPath);
  } catch {
    return false;
  }
}

export function processName(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return undefined;
    return stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
  } catch {
    return undefined;
  }
}

/** Waits up to timeoutMs for the pids to end; returns those still running. */
export async function stillAlive(pids: number[], timeoutMs = 3000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let alive = pids.filter((pid) => processName(pid) !== undefined);
  while (alive.length > 0 && Date.now() < deadline) {
    await sleep(50);
    alive = alive.filter((pid) => processName(pid) !== undefined);
  }
  return alive;
}
