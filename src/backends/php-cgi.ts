/**
 * Supervises one php-cgi process (lighttpd's `bin-path` role): spawns `php-cgi -b ADDRESS`,
 * waits until it accepts connections, logs what it prints, respawns it with back-off when it
 * dies, and stops it with SIGTERM then SIGKILL.
 *
 * No php-cgi may outlive us. Three layers see to it:
 *  - it is spawned detached, so it leads its own process group (its workers join it), and
 *    stopping kills the whole group, workers included, even when the master is gone;
 *  - on Linux it is spawned through `setpriv --pdeathsig TERM`, so the kernel sends the
 *    master SIGTERM if we die without cleaning up (SIGKILL, crash); php-cgi then kills its
 *    workers itself;
 *  - a process 'exit' handler kills every live group synchronously.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, lstatSync, unlinkSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeAddress, type FastCgiAddress, openSocket } from '../fastcgi/connection.js';

export interface PhpCgiProcessOptions {
  /** The command, split on spaces like lighttpd's bin-path: `/usr/bin/php-cgi -c /etc/php.ini`. */
  binPath: string;
  address: FastCgiAddress;
  /** Added to the environment (bin-environment). */
  binEnvironment?: Record<string, string>;
  /** When given, only these variables are copied from our environment (bin-copy-environment). */
  binCopyEnvironment?: string[];
  /** PHP_FCGI_CHILDREN; default: bin-environment's value, else 1 (as lighttpd). */
  children?: number;
  /** PHP_FCGI_MAX_REQUESTS, passed through when set. */
  maxRequests?: number;
  /** ms to wait for the socket to accept connections (default 10000). */
  startTimeout?: number;
  /** ms between SIGTERM and SIGKILL on stop (default 5000). */
  stopGrace?: number;
  /** Respawn delays: first, cap, and how long a process must live to reset them (ms). */
  respawnDelay?: { initial?: number; max?: number; resetAfter?: number };
  /** Every line php-cgi prints, and what the supervisor does (stream 'supervisor'). */
  log?: (line: string, stream: 'stdout' | 'stderr' | 'supervisor') => void;
}

export interface PhpCgiProcessEvents {
  /** The (re)spawned process accepts connections. */
  ready: [pid: number];
  exit: [code: number | null, signal: NodeJS.Signals | null];
}

const live = new Set<PhpCgiProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const proc of live) proc.killNow();
  });
}

let pdeathsigWrapper: string | undefined | null = null;
function findSetpriv(): string | undefined {
  if (pdeathsigWrapper === null) {
    pdeathsigWrapper = undefined;
    if (process.platform === 'linux') {
      for (const dir of ['/usr/bin', '/bin', '/usr/sbin', '/sbin']) {
        if (existsSync(`${dir}/setpriv`)) pdeathsigWrapper = `${dir}/setpriv`;
      }
    }
  }
  return pdeathsigWrapper;
}

export function phpCgiEnvironment(options: PhpCgiProcessOptions): Record<string, string> {
  const env: Record<string, string> = {};
  const source = process.env;
  const names = options.binCopyEnvironment ?? Object.keys(source);
  for (const name of names) if (source[name] !== undefined) env[name] = source[name]!;
  Object.assign(env, options.binEnvironment);
  if (options.children !== undefined) env.PHP_FCGI_CHILDREN = String(options.children);
  env.PHP_FCGI_CHILDREN ??= '1';
  if (options.maxRequests !== undefined) env.PHP_FCGI_MAX_REQUESTS = String(options.maxRequests);
  return env;
}

export class PhpCgiProcess extends EventEmitter<PhpCgiProcessEvents> {
  readonly address: FastCgiAddress;
  /** PHP_FCGI_CHILDREN as spawned: how many requests it serves at once (at least 1). */
  readonly children: number;
  private child: ChildProcess | undefined;
  private stopping = false;
  private started = false;
  /** Someone else already serves the address: we use it and spawn nothing (as lighttpd). */
  private external = false;
  private delay: number;
  private respawnTimer: NodeJS.Timeout | undefined;
  private readonly env: Record<string, string>;

  constructor(private readonly options: PhpCgiProcessOptions) {
    super();
    this.address = options.address;
    this.env = phpCgiEnvironment(options);
    this.children = Math.max(1, Number(this.env.PHP_FCGI_CHILDREN) || 1);
    this.delay = options.respawnDelay?.initial ?? 100;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Spawns php-cgi and resolves once its socket accepts connections. */
  async start(): Promise<void> {
    if (this.started) throw new Error('PhpCgiProcess already started');
    this.started = true;
    if (await this.accepts()) {
      this.external = true;
      this.log(
        `${describeAddress(this.address)} already accepts connections; not spawning ${this.options.binPath}`,
      );
      return;
    }
    installExitHook();
    const child = this.spawn();
    await this.waitReady(child);
  }

  /** SIGTERM, then SIGKILL after the grace period; removes the unix socket file. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.respawnTimer);
    const child = this.child;
    if (child && this.running) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      this.signalGroup(child, 'SIGTERM');
      const grace = this.options.stopGrace ?? 5000;
      const timer = setTimeout(() => this.signalGroup(child, 'SIGKILL'), grace);
      await exited;
      clearTimeout(timer);
    }
    live.delete(this);
    this.removeSocketFile();
  }

  /** Synchronous last resort for process exit: kill the whole group, remove the socket. */
  killNow(): void {
    if (this.child && this.running) this.signalGroup(this.child, 'SIGKILL');
    this.removeSocketFile();
  }

  /** Resolves when the process (after a respawn, say) accepts connections again. */
  async whenReady(timeout = this.options.startTimeout ?? 10_000): Promise<void> {
    const deadline = Date.now() + timeout;
    while (!(this.running && (await this.accepts()))) {
      if (Date.now() > deadline)
        throw new Error(`php-cgi on ${describeAddress(this.address)} not ready after ${timeout} ms`);
      await sleep(20);
    }
  }

  private spawn(): ChildProcess {
    this.removeSocketFile();
    const [command, ...args] = this.options.binPath.split(' ').filter((s) => s.length > 0);
    if (!command) throw new Error('empty bin-path');
    const bind = 'socket' in this.address ? this.address.socket : `${this.address.host}:${this.address.port}`;
    const setpriv = findSetpriv();
    const argv = setpriv
      ? ['--pdeathsig', 'TERM', '--', command, ...args, '-b', bind]
      : [...args, '-b', bind];
    const child = spawn(setpriv ?? command, argv, {
      env: this.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    live.add(this);
    const startedAt = Date.now();
    for (const stream of ['stdout', 'stderr'] as const) {
      createInterface({ input: child[stream]!, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) =>
        this.options.log?.(line, stream),
      );
    }
    child.once('error', (error) => this.log(`cannot spawn ${this.options.binPath}: ${error.message}`));
    child.once('exit', (code, signal) => {
      this.emit('exit', code, signal);
      // Workers of a master that died hard keep the address busy: they go too.
      this.signalGroup(child, 'SIGKILL');
      if (this.stopping || this.child !== child) return;
      this.scheduleRespawn(Date.now() - startedAt, code, signal);
    });
    return child;
  }

  private scheduleRespawn(uptime: number, code: number | null, signal: NodeJS.Signals | null): void {
    const { max = 5000, resetAfter = 10_000, initial = 100 } = this.options.respawnDelay ?? {};
    if (uptime >= resetAfter) this.delay = initial;
    const delay = this.delay;
    this.delay = Math.min(max, this.delay * 2);
    this.log(
      `php-cgi on ${describeAddress(this.address)} exited (${signal ?? `code ${code}`}); respawning in ${delay} ms`,
    );
    this.respawnTimer = setTimeout(() => {
      if (this.stopping) return;
      const child = this.spawn();
      this.waitReady(child).catch((error: Error) => this.log(error.message));
    }, delay);
  }

  private async waitReady(child: ChildProcess): Promise<void> {
    const timeout = this.options.startTimeout ?? 10_000;
    const deadline = Date.now() + timeout;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
        throw new Error(
          `${this.options.binPath} exited before accepting connections on ${describeAddress(this.address)}`,
        );
      }
      if (await this.accepts()) break;
      if (Date.now() > deadline) {
        throw new Error(
          `${this.options.binPath} did not accept connections on ${describeAddress(this.address)} within ${timeout} ms`,
        );
      }
      await sleep(20);
    }
    if (this.child === child) this.emit('ready', child.pid);
  }

  private async accepts(): Promise<boolean> {
    try {
      (await openSocket(this.address, 1000)).destroy();
      return true;
    } catch {
      return false;
    }
  }

  private signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
    if (child.pid === undefined) return;
    try {
      // Negative pid: the process group php-cgi leads (spawned detached), workers included.
      process.kill(-child.pid, signal);
    } catch {
      // The group is already gone.
    }
  }

  private removeSocketFile(): void {
    if (this.external || !('socket' in this.address)) return;
    try {
      if (lstatSync(this.address.socket).isSocket()) unlinkSync(this.address.socket);
    } catch {
      // Not there: nothing to remove.
    }
  }

  private log(line: string): void {
    this.options.log?.(line, 'supervisor');
  }
}
