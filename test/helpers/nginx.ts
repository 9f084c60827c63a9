import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listensOn, onFreePort } from './ports.js';

/**
 * Debian's nginx (nginx-light: it has auth_request), started by a test with the server block it
 * writes, on a free port of 127.0.0.1, in the foreground as our own child (`-g 'daemon off;'`,
 * master and one worker), and stopped by the master's pid.
 */
export const NGINX = '/usr/sbin/nginx';

export interface RunningNginx {
  port: number;
  pid: number;
  /** The temp dir: nginx.conf, the pid file, the error log and the temp paths. */
  dir: string;
  errorLog(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * `servers(port)` is the server blocks, listening on 127.0.0.1:port; the http block around
 * them sets only the temp paths (all in the temp dir) and turns the access log off.
 */
export async function startNginx(servers: (port: number) => string): Promise<RunningNginx> {
  if (!existsSync(NGINX)) throw new Error('nginx is not installed: run npm test (it installs nginx-light)');
  return onFreePort(async (port) => {
    const dir = await mkdtemp(join(tmpdir(), 'koa-lighty-nginx-'));
    const conf = join(dir, 'nginx.conf');
    const errorLog = join(dir, 'error.log');
    const temp = (name: string) => `${name}_temp_path ${join(dir, name)};`;
    await writeFile(
      conf,
      [
        // As root, nginx's workers would be nobody, who cannot read a test's mkdtemp dirs.
        process.getuid?.() === 0 ? 'user root root;' : '',
        'worker_processes 1;',
        `pid ${join(dir, 'nginx.pid')};`,
        `error_log ${errorLog} info;`,
        'events { worker_connections 128; }',
        'http {',
        '  access_log off;',
        `  ${['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(temp).join('\n  ')}`,
        servers(port),
        '}',
        '',
      ].join('\n'),
    );
    const child = spawn(NGINX, ['-p', dir, '-c', conf, '-g', 'daemon off;'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const stderrClosed = new Promise((resolve) => child.stderr!.once('close', resolve));
    const readLog = () => readFile(errorLog, 'utf8').catch(() => '');
    try {
      await waitForPort(port, child);
    } catch (err) {
      await stopChild(child, exited);
      // nginx says "Address already in use" there: onFreePort then tries another port.
      await stderrClosed;
      const log = await readLog();
      await rm(dir, { recursive: true, force: true });
      throw new Error(`nginx did not start: ${(err as Error).message}\n${stderr}${log}`);
    }
    return {
      port,
      pid: child.pid!,
      dir,
      errorLog: readLog,
      async stop() {
        await stopChild(child, exited);
        await rm(dir, { recursive: true, force: true });
      },
    };
  });
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

/** SIGTERM (nginx's fast shutdown; the master ends its workers) by pid; SIGKILL after 5 s. */
async function stopChild(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  process.kill(child.pid, 'SIGTERM');
  const timer = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL');
  }, 5000);
  await exited;
  clearTimeout(timer);
}
