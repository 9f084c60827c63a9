import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';

/** Every process the benchmark started and has not stopped yet: stopped on exit or Ctrl-C. */
const running = new Set<Started>();

export interface Started {
  name: string;
  child: ChildProcess;
  pid: number;
  /** Everything the process wrote to stdout and stderr (the last 64 KiB). */
  output(): string;
  exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after graceMs; also kills descendants that outlive their parent. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts a command as our own child (never through a shell) and keeps its output. */
export function start(name: string, command: string, args: string[], env?: NodeJS.ProcessEnv): Started {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-65536);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? (signal ? -1 : null)));
    child.once('error', (err) => {
      keep(Buffer.from(`${err.message}\n`));
      resolve(-1);
    });
  });
  const started: Started = {
    name,
    child,
    pid: child.pid ?? -1,
    output: () => output,
    exited,
    async stop(graceMs = 5000) {
      running.delete(started);
      if (started.pid < 0) return;
      const tree = descendants(started.pid);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), graceMs));
        if ((await Promise.race([exited, timer])) === 'timeout') {
          child.kill('SIGKILL');
          await exited;
        }
      }
      // Children of ours (nginx workers, cluster workers) that did not go with their parent.
      for (const pid of tree) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    },
  };
  running.add(started);
  return started;
}

/** Stops everything still running; installed for exit, SIGINT and SIGTERM by installCleanup. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((s) => s.stop(2000)));
}

const cleanups: (() => Promise<void>)[] = [];

/** Something to do after the processes are stopped on Ctrl-C (removing the temp dir). */
export function onInterrupt(cleanup: () => Promise<void>): void {
  cleanups.push(cleanup);
}

export function installCleanup(): void {
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`\nbench: ${signal}: stopping the servers it started`);
    stopAll()
      .then(() => Promise.allSettled(cleanups.map((c) => c())))
      .finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', () => {
    // Last resort (a crash): no time to be gentle, but take the children along too.
    for (const s of running) {
      for (const pid of [...descendants(s.pid), s.pid]) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  });
}

export { freePort } from '../../test/helpers/ports.js';

/** Resolves once 127.0.0.1:port accepts a connection; rejects if the process exits first. */
export async function waitForPort(port: number, proc: Started, timeoutMs = 15000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | null | undefined;
  proc.exited.then((code) => {
    exitCode = code;
  });
  while (Date.now() < deadline) {
    if (exitCode !== undefined) throw new Error(`${proc.name} exited with ${exitCode} before listening`);
    if (await canConnect(port)) return;
    await sleep(50);
  }
  throw new Error(`${proc.name} did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

interface ProcInfo {
  pid: number;
  ppid: number;
  comm: string;
}

function listProcesses(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may hold spaces and parentheses, so split at the last ')'.
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const ppid = Number(stat.slice(close + 2).split(' ')[1]);
      out.push({ pid: Number(entry), ppid, comm });
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

/** pid's children, grandchildren, ... (not pid itself). */
export function descendants(pid: number, all: ProcInfo[] = listProcesses()): number[] {
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    for (const p of all) {
      if (p.ppid === parent) {
        found.push(p.pid);
        queue.push(p.pid);
      }
    }
  }
  return found;
}

function rssKiB(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

export interface RssPeak {
  /** Peak of the sum over the process tree, MiB. */
  totalMiB: number;
  /** Peak of the largest single process in the tree, MiB. */
  largestMiB: number;
  /** RSS of the tree when sampling began, MiB. */
  startMiB: number;
}

/**
 * Samples VmRSS of pid and its descendants (php-cgi excluded: it is shared, not the server's)
 * every intervalMs until stop() is called.
 */
export function sampleRss(pid: number, intervalMs = 100): { stop(): RssPeak; now(): number } {
  const measure = () => {
    const all = listProcesses();
    const pids = [pid, ...descendants(pid, all)].filter(
      (p) => !all.find((q) => q.pid === p && q.comm.startsWith('php')),
    );
    let total = 0;
    let largest = 0;
    for (const p of pids) {
      const kib = rssKiB(p);
      total += kib;
      largest = Math.max(largest, kib);
    }
    return { total: total / 1024, largest: largest / 1024 };
  };
  const first = measure();
  const peak: RssPeak = { totalMiB: first.total, largestMiB: first.largest, startMiB: first.total };
  const timer = setInterval(() => {
    const m = measure();
    peak.totalMiB = Math.max(peak.totalMiB, m.total);
    peak.largestMiB = Math.max(peak.largestMiB, m.largest);
  }, intervalMs);
  return {
    now: () => measure().total,
    stop() {
      clearInterval(timer);
      const m = measure();
      peak.totalMiB = Math.max(peak.totalMiB, m.total);
      peak.largestMiB = Math.max(peak.largestMiB, m.largest);
      return peak;
    },
  };
}

/** Runs a command to completion and returns its stdout and stderr together (for versions). */
export function capture(command: string, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.once('error', (err) => resolve(`(${err.message})`));
    child.once('close', () => resolve(out));
  });
}
