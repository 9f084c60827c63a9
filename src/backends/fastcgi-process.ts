/**
 * Supervises one FastCGI program spawned from lighttpd's `bin-path` (php-cgi, or anything built
 * on libfcgi, node-fastcgi, flup …), started the way lighttpd starts it: we create the listening
 * socket and the program gets it as fd 0 (FCGI_LISTENSOCK_FILENO), with no address argument.
 * Its stdout and stderr go to the error log. When it dies it is logged and respawned with
 * back-off; meanwhile connects are refused and the balancer answers 503. It is stopped with
 * SIGTERM then SIGKILL.
 *
 * No program may outlive us. Three layers see to it:
 *  - it is spawned detached, so it leads its own process group (php-cgi's workers join it),
 *    and stopping kills the whole group, workers included, even when the leader is gone;
 *  - on Linux it is spawned through `setpriv --pdeathsig TERM`, so the kernel sends it
 *    SIGTERM if we die without cleaning up (SIGKILL, crash); php-cgi then kills its workers;
 *  - a process 'exit' handler kills every live group synchronously.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { accessSync, constants, existsSync, lstatSync, statSync, unlinkSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { describeAddress, type FastCgiAddress, openSocket } from '../fastcgi/connection.js';
import { spawnOnListenSocket } from './listen-socket.js';

export interface FastCgiProcessOptions {
  /** The command line, split like lighttpd's bin-path: `/usr/bin/php-cgi -c /etc/php.ini`. */
  binPath: string;
  address: FastCgiAddress;
  /** Added to the environment (bin-environment). */
  binEnvironment?: Record<string, string>;
  /** When given, only these variables are copied from our environment (bin-copy-environment). */
  binCopyEnvironment?: string[];
  /** PHP_FCGI_CHILDREN; default: bin-environment's value, else 1 (lighttpd sets it for every program). */
  children?: number;
  /** PHP_FCGI_MAX_REQUESTS, passed through when set. */
  maxRequests?: number;
  /** listen(2) backlog of the socket (lighttpd's listen-backlog, default 1024). */
  listenBacklog?: number;
  /** ms between SIGTERM and SIGKILL on stop (default 5000). */
  stopGrace?: number;
  /** Respawn delays: first, cap, and how long a process must live to reset them (ms). */
  respawnDelay?: { initial?: number; max?: number; resetAfter?: number };
  /** Every line the program prints, and what the supervisor does (stream 'supervisor'). */
  log?: (line: string, stream: 'stdout' | 'stderr' | 'supervisor') => void;
}

export interface FastCgiProcessEvents {
  /** A (re)spawned program runs with its socket listening: connections queue for it. */
  ready: [pid: number];
  exit: [code: number | null, signal: NodeJS.Signals | null];
}

const live = new Set<FastCgiProcess>();
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

/**
 * bin-path as lighttpd splits it: every space or tab ends an argument (two in a row make an
 * empty one), no quoting, no shell.
 */
export function splitBinPath(binPath: string): string[] {
  return binPath.split(/[ \t]/);
}

/** The environment lighttpd gives a bin-path program. */
export function fastCgiEnvironment(options: FastCgiProcessOptions): Record<string, string> {
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

export class FastCgiProcess extends EventEmitter<FastCgiProcessEvents> {
  readonly address: FastCgiAddress;
  /** PHP_FCGI_CHILDREN as spawned: how many requests it serves at once (at least 1). */
  readonly children: number;
  private child: ChildProcess | undefined;
  private stopping = false;
  private started = false;
  /** Someone else already serves the address: we use it and spawn nothing (as lighttpd). */
  private external = false;
  /** Times the program was started again after it died or failed to start (the status page). */
  private restarts = 0;
  private delay: number;
  private respawnTimer: NodeJS.Timeout | undefined;
  /** The attempt under way: stop() waits for it, or its child would escape. */
  private launching: Promise<void> | undefined;
  private readonly env: Record<string, string>;
  private readonly command: string;
  private readonly args: string[];
  /** lighttpd runs the program in its own directory. */
  private readonly cwd: string | undefined;

  constructor(private readonly options: FastCgiProcessOptions) {
    super();
    this.address = options.address;
    this.env = fastCgiEnvironment(options);
    this.children = Math.max(1, Number(this.env.PHP_FCGI_CHILDREN) || 1);
    this.delay = options.respawnDelay?.initial ?? 100;
    const [command = '', ...args] = splitBinPath(options.binPath);
    if (command === '') throw new Error(`bin-path "${options.binPath}" does not start with a program`);
    // A bare name is looked up in PATH (lighttpd would not find it); a path is made absolute,
    // since the program starts in its own directory.
    this.command = command.includes('/') ? resolve(command) : command;
    this.cwd = command.includes('/') ? dirname(this.command) : undefined;
    this.args = args;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts after the first: each death or failed start of the program costs one. */
  get respawns(): number {
    return this.restarts;
  }

  /** Someone else served the address at start, so nothing was spawned. */
  get adopted(): boolean {
    return this.external;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /**
   * Spawns the program and resolves once its socket listens. A program that cannot start, or
   * dies, is logged and respawned with back-off: this never rejects on its account.
   */
  async start(): Promise<void> {
    if (this.started) throw new Error('FastCgiProcess already started');
    this.started = true;
    if (await this.accepts()) {
      this.external = true;
      this.log(
        `${describeAddress(this.address)} already accepts connections; not spawning ${this.options.binPath}`,
      );
      return;
    }
    this.checkProgram();
    installExitHook();
    live.add(this);
    await this.launch();
  }

  /** SIGTERM, then SIGKILL after the grace period; removes the unix socket file. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.respawnTimer);
    await this.launching;
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

  /** lighttpd's start-up check: a warning, not a refusal (the file may appear later). */
  private checkProgram(): void {
    if (!this.command.includes('/')) return;
    try {
      if (!statSync(this.command).isFile()) throw new Error('not a regular file');
      accessSync(this.command, constants.X_OK);
    } catch {
      this.log(
        `invalid "bin-path" => "${this.options.binPath}" (check that the file exists, is a regular file, and is executable)`,
      );
    }
  }

  /** One attempt: a fresh socket, the program on it. Failures schedule the next attempt. */
  private launch(): Promise<void> {
    this.launching = this.attempt().finally(() => {
      this.launching = undefined;
    });
    return this.launching;
  }

  private async attempt(): Promise<void> {
    let spawned: ChildProcess | undefined;
    try {
      spawned = await spawnOnListenSocket(
        this.address,
        (fd) => {
          spawned = this.spawnChild(fd);
          return spawned;
        },
        this.options.listenBacklog,
      );
    } catch (error) {
      const what = `could not be started: ${(error as Error).message}`;
      // A child holding a socket nobody can reach goes; its exit schedules the next attempt.
      if (spawned?.pid !== undefined) {
        this.log(`${this.options.binPath} on ${describeAddress(this.address)} ${what}`);
        this.signalGroup(spawned, 'SIGKILL');
      } else this.scheduleRespawn(0, what);
      return;
    }
    if (spawned.pid !== undefined && this.running) this.emit('ready', spawned.pid);
  }

  private spawnChild(fd: number): ChildProcess {
    const setpriv = findSetpriv();
    const child = spawn(
      setpriv ?? this.command,
      setpriv ? ['--pdeathsig', 'TERM', '--', this.command, ...this.args] : this.args,
      {
        env: this.env,
        cwd: this.cwd,
        detached: true,
        stdio: [fd, 'pipe', 'pipe'],
      },
    );
    this.child = child;
    const startedAt = Date.now();
    for (const stream of ['stdout', 'stderr'] as const) {
      createInterface({ input: child[stream]!, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) =>
        this.options.log?.(line, stream),
      );
    }
    let gone = false;
    const onGone = (what: string) => {
      if (gone) return;
      gone = true;
      // php-cgi's workers of a leader that died hard would keep the socket: they go too.
      this.signalGroup(child, 'SIGKILL');
      if (this.stopping || this.child !== child) return;
      this.scheduleRespawn(Date.now() - startedAt, what);
    };
    child.once('error', (error) => {
      // Node names the command it ran (setpriv) when it is the directory that is missing.
      const why = this.cwd && !existsSync(this.cwd) ? `no directory ${this.cwd}` : error.message;
      onGone(`could not be started (${why})`);
    });
    child.once('exit', (code, signal) => {
      this.emit('exit', code, signal);
      onGone(signal ? `was killed by ${signal}` : `exited with code ${code}`);
    });
    return child;
  }

  private scheduleRespawn(uptime: number, what: string): void {
    if (this.stopping) return;
    const { max = 5000, resetAfter = 10_000, initial = 100 } = this.options.respawnDelay ?? {};
    if (uptime >= resetAfter) this.delay = initial;
    const delay = this.delay;
    this.delay = Math.min(max, this.delay * 2);
    this.log(
      `${this.options.binPath} on ${describeAddress(this.address)} ${what}; starting it again in ${delay} ms`,
    );
    this.respawnTimer = setTimeout(() => {
      if (this.stopping) return;
      this.restarts++;
      void this.launch();
    }, delay);
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
      // Negative pid: the process group the program leads (spawned detached), workers included.
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
