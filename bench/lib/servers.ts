import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, type Started, sleep, start, waitForPort } from './proc.js';
import { exists, type PhpPool, ROOT, renderTemplate, type Site } from './site.js';

export type ServerKind = 'koa-lighty' | 'lighttpd' | 'nginx';

export interface ServerSpec {
  /** Stable id used in results and BENCH_SERVERS: koa-lighty, koa-lighty-w2, lighttpd, nginx. */
  id: string;
  label: string;
  kind: ServerKind;
  workers?: number;
}

export interface RunningServer {
  spec: ServerSpec;
  port: number;
  /** The same site over TLS (HTTP/1.1 and h2 by ALPN), with the site's self-signed certificate. */
  tlsPort: number;
  /** The server's own process (nginx master, cluster primary): RSS is summed over its tree. */
  pid: number;
  proc: Started;
  stop(): Promise<void>;
}

export const LIGHTTPD = '/usr/sbin/lighttpd';
export const NGINX = '/usr/sbin/nginx';
const KOA_LIGHTY_BIN = join(ROOT, 'bin', 'koa-lighty.js');
const KOA_LIGHTY_CLI = join(ROOT, 'dist', 'server', 'cli.js');

export const ALL_SERVERS: ServerSpec[] = [
  { id: 'koa-lighty', label: 'koa-lighty', kind: 'koa-lighty', workers: 1 },
  { id: 'koa-lighty-w2', label: 'koa-lighty --workers 2', kind: 'koa-lighty', workers: 2 },
  { id: 'lighttpd', label: 'lighttpd', kind: 'lighttpd' },
  { id: 'nginx', label: 'nginx', kind: 'nginx' },
];

export interface StartOptions {
  site: Site;
  php: PhpPool;
  /** BENCH_PROFILE=1: koa-lighty runs with --cpu-prof into this directory. */
  cpuProfDir?: string;
}

/** Starts one server on a free port of 127.0.0.1; throws with a one-line reason when it cannot. */
export async function startServer(spec: ServerSpec, options: StartOptions): Promise<RunningServer> {
  const port = await freePort();
  const tlsPort = await freePort();
  const tmp = await mkdtemp(join(options.site.dir, `${spec.id}-`));
  const values = {
    PORT: port,
    TLS_PORT: tlsPort,
    TLS_PEM: options.site.tls.pemFile,
    TLS_CERT: options.site.tls.certFile,
    TLS_KEY: options.site.tls.keyFile,
    DOCROOT: options.site.docroot,
    FILES: options.site.files,
    PHP_HOST: options.php.host,
    PHP_PORT: options.php.port,
    TMP: tmp,
    SECRET: options.site.secret,
    // nginx started by root runs its workers as nobody, who could not read our temp dir.
    USER_LINE: process.getuid?.() === 0 ? 'user root root;' : '',
  };
  let proc: Started;
  if (spec.kind === 'koa-lighty') {
    if (!exists(KOA_LIGHTY_BIN)) throw new Error(`${KOA_LIGHTY_BIN} does not exist`);
    if (!exists(KOA_LIGHTY_CLI)) throw new Error('dist/server/cli.js is not built (npm run build)');
    const conf = join(tmp, 'koa-lighty.conf');
    await writeFile(conf, await renderTemplate('koa-lighty.conf', values));
    const nodeArgs: string[] = [];
    if (options.cpuProfDir) {
      await mkdir(options.cpuProfDir, { recursive: true });
      nodeArgs.push('--cpu-prof', '--cpu-prof-dir', options.cpuProfDir);
    }
    const args = [...nodeArgs, KOA_LIGHTY_BIN, '-f', conf];
    if ((spec.workers ?? 1) > 1) args.push('--workers', String(spec.workers));
    proc = start(spec.id, process.execPath, args);
  } else if (spec.kind === 'lighttpd') {
    if (!exists(LIGHTTPD)) throw new Error(`${LIGHTTPD} is not installed (apt-get install lighttpd)`);
    const conf = join(tmp, 'lighttpd.conf');
    await writeFile(conf, await renderTemplate('lighttpd.conf', values));
    proc = start(spec.id, LIGHTTPD, ['-D', '-f', conf]);
  } else {
    if (!exists(NGINX)) throw new Error(`${NGINX} is not installed (apt-get install nginx-light)`);
    const conf = join(tmp, 'nginx.conf');
    await writeFile(conf, await renderTemplate('nginx.conf', values));
    proc = start(spec.id, NGINX, ['-c', conf, '-p', tmp, '-e', join(tmp, 'error.log'), '-g', 'daemon off;']);
  }
  const stop = async () => {
    await proc.stop();
    await rm(tmp, { recursive: true, force: true });
  };
  try {
    await waitForPort(port, proc);
    await waitForPort(tlsPort, proc);
    if (spec.kind === 'koa-lighty' && (spec.workers ?? 1) > 1) {
      // The port opens with the first worker; the primary says when all of them listen.
      const deadline = Date.now() + 10000;
      while (!/listening/.test(proc.output()) && Date.now() < deadline) await sleep(50);
    }
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}${lastLines(proc.output())}`);
  }
  return { spec, port, tlsPort, pid: proc.pid, proc, stop };
}

function lastLines(output: string): string {
  const lines = output
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-3);
  return lines.length ? `: ${lines.join(' | ').slice(0, 400)}` : '';
}
