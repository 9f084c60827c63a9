/**
 * A server a test runs in the foreground as its own child (lighttpd -D, nginx with daemon
 * off): started means listening on every port it was given; stopped by its pid (SIGTERM, then
 * SIGKILL after 5 s) with its temp dir removed. A start that fails stops the child and says
 * why with its last words, which onFreePort reads ("Address already in use": another port).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { listensOn } from './ports.js';

export interface RunningDaemon {
  port: number;
  pid: number;
  /** The temp dir holding its conf, pid file and error log. */
  dir: string;
  /** What it wrote to its error log so far. */
  errorLog(): Promise<string>;
  stop(): Promise<void>;
}

export async function startDaemon(options: {
  name: string;
  command: string;
  args: string[];
  /** The port it must listen on, then any others (`$SERVER["socket"]` blocks). */
  ports: [number, ...number[]];
  dir: string;
  errorLog: string;
}): Promise<RunningDaemon> {
  const child = spawn(options.command, options.args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const stderrClosed = new Promise((resolve) => child.stderr!.once('close', resolve));
  const readLog = () => readFile(options.errorLog, 'utf8').catch(() => '');
  try {
    for (const port of options.ports) await waitForPort(port, child);
  } catch (err) {
    await stopChild(child, exited);
    await stderrClosed;
    const log = await readLog();
    await rm(options.dir, { recursive: true, force: true });
    throw new Error(`${options.name} did not start: ${(err as Error).message}\n${stderr}${log}`);
  }
  return {
    port: options.ports[0],
    pid: child.pid!,
    dir: options.dir,
    errorLog: readLog,
    async stop() {
      await stopChild(child, exited);
      await rm(options.dir, { recursive: true, force: true });
    },
  };
}

async function waitForPort(port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`exited with ${child.exitCode ?? child.signalCode}`);
    if (listensOn(child.pid!, port)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`port ${port} not open after 10 s`);
}

/** SIGTERM to our own child by pid (nginx: fast shutdown, the master ends its workers); SIGKILL after 5 s. */
async function stopChild(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  process.kill(child.pid, 'SIGTERM');
  const timer = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL');
  }, 5000);
  await exited;
  clearTimeout(timer);
}
