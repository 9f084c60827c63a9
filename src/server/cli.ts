import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseServerArgs, USAGE, UsageError } from './args.js';
import { createHttpServer } from './http-server.js';
import { alpnProtocols } from './http2-server.js';
import { activatedSockets, describeAddress, dropPrivileges, writePidFile } from './listen.js';
import type { Listener } from './listeners.js';
import { inheritedListeners, serveListeners } from './serve-listeners.js';

/** The env variable that hands a primary's inherited sockets on to its workers (--workers). */
const WORKER_SOCKETS = 'KOA_LIGHTY_ACTIVATED_FDS';

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function version(): string {
  return JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')).version as string;
}

/**
 * `-V`: what lighttpd -V lists, for the scripts that read it (lighttpd's own test suite asks
 * for "PCRE support" and a crypto library before running the tests that need them). Only
 * what is true here is marked `+`.
 */
function features(): string {
  return [
    '',
    'Features:',
    '',
    '\t+ IPv6 support',
    '\t+ PCRE support (lighttpd.conf regexes run as JavaScript RegExp; PCRE-only syntax is refused)',
    `\t+ OpenSSL support (mod_openssl on node:tls, and secdownload's crypto: Node's OpenSSL ${process.versions.openssl})`,
  ].join('\n');
}

/** The bundled demo: a lighttpd.conf like any other, pointing at fixtures/demo. */
export const DEMO_CONFIG = join(packageRoot, 'fixtures', 'demo', 'lighttpd.conf');

/** `koa-lighty ARGS`: resolves to the exit code (a running server resolves when it stops). */
export async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'secdownload-url') {
    const { secdownloadUrlCommand } = await import('./secdownload-cli.js');
    return secdownloadUrlCommand(argv.slice(1));
  }
  if (argv[0] === 'authorizer') return (await import('./authorizer-cli.js')).authorizerCommand(argv.slice(1));
  let args: ReturnType<typeof parseServerArgs>;
  try {
    args = parseServerArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`koa-lighty: ${err.message}\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  if (args.version) {
    console.log(`koa-lighty/${version()} - lighttpd's front end for PHP, on Koa`);
    if (args.features) console.log(features());
    return 0;
  }
  const demo = args.configFile === undefined;
  const configFile = args.configFile ?? DEMO_CONFIG;
  // Loading is where a bad file, an unknown option or a missing document root is reported.
  const { loadConfig, createApp } = await import('./app.js');
  const loaded = loadConfig(configFile, {
    env: {
      ...process.env,
      KOA_LIGHTY_HOME: packageRoot,
      KOA_LIGHTY_DEMO_PORT: process.env.KOA_LIGHTY_DEMO_PORT ?? '8080',
    },
  });
  if (args.test) {
    for (const warning of loaded.warnings) console.error(`koa-lighty: warning: ${warning}`);
    console.log(`Syntax OK`);
    return 0;
  }
  if (args.print) {
    console.log(JSON.stringify(loaded.print(), null, 2));
    return 0;
  }

  if (args.workers > 1 && cluster.isPrimary) return runPrimary(args.workers, loaded);

  const worker = cluster.isWorker
    ? { index: Number(process.env.KOA_LIGHTY_WORKER ?? 0), count: args.workers }
    : undefined;
  const lighty = createApp(loaded, { worker });
  if (!worker) for (const warning of loaded.warnings) lighty.log.warn('config', warning);
  const served = serveListeners(
    listenersOf(loaded, worker !== undefined),
    () =>
      createHttpServer(lighty.app.callback(), {
        maxRequestFieldSize: loaded.server.maxRequestFieldSize,
        connectionLimits: loaded.server.connectionLimits,
        // lighttpd counts per process, with server.max-worker too: each worker has the limit.
        maxConnections: loaded.server.maxConnections,
        // HTTP/2 with prior knowledge on clear-text sockets and by ALPN on TLS ones, unless
        // server.feature-flags turns server.h2proto off.
        http2: loaded.server.http2,
        log: lighty.log,
      }),
    lighty.log,
    loaded.server.connectionLimits.readIdleMs,
    alpnProtocols(loaded.server.http2),
  );
  // served.reload() re-reads every TLS listener's certificates (for SIGUSR1); they are also
  // re-read when their files change.
  const servers = served.http;
  let removePid = () => {};
  // Signals are handled from here on: one that arrives while starting still stops cleanly.
  const stopped = new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      lighty.log.info('server', `${signal}: shutting down`);
      served.close();
      for (const server of servers) {
        server.close();
        server.closeIdleConnections();
      }
      const force = setTimeout(() => {
        for (const server of servers) server.closeAllConnections();
      }, 5000);
      force.unref();
      lighty.close().finally(() => {
        removePid();
        resolve(0);
        // Nothing is left to do, but timers of stores and a worker's IPC channel would keep
        // the process alive: end it, so a primary (or a service manager) sees it go.
        setImmediate(() => process.exit(0));
      });
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  const bound = await served.listen();
  if (!worker) removePid = writePidFile(lighty.pidFile);
  dropPrivileges(lighty.user, lighty.group);
  await lighty.ready();
  const where = bound
    .map((address, i) => {
      const text = describeAddress(address);
      return served.servers[i]!.contexts ? text.replace(/^http:/, 'https:') : text;
    })
    .join(', ');
  if (!worker) {
    console.log(`koa-lighty ${version()} listening on ${where} (${configFile})`);
    if (demo) for (const line of lighty.demoLinks(bound[0]!)) console.log(line);
  } else {
    process.send?.({ listening: where });
  }
  return stopped;
}

/**
 * --workers N: the primary spawns php-cgi once and forks N workers that share the port; each
 * worker talks to the primary's php-cgi as a remote backend with its share of the connections.
 */
async function runPrimary(count: number, loaded: import('./app.js').LoadedConfig): Promise<number> {
  const { createBackendSupervisor } = await import('./app.js');
  const supervisor = createBackendSupervisor(loaded);
  for (const warning of loaded.warnings) supervisor.log.warn('config', warning);
  await supervisor.start();
  const workers = new Set<import('node:cluster').Worker>();
  let listening = 0;
  let stopping = false;
  // Workers listen on the primary's inherited descriptors: cluster creates the handle in the
  // primary from the fd number and hands connections out as for any port.
  const inherited = loaded.server.socketActivation ? activatedSockets() : undefined;
  if (inherited) inheritedListeners(inherited, loaded.listeners); // refuses TLS on them, before forking
  const fork = (index: number) => {
    const worker = cluster.fork({
      KOA_LIGHTY_WORKER: String(index),
      ...(inherited ? { [WORKER_SOCKETS]: inherited.map((s) => s.fd).join(',') } : {}),
    });
    workers.add(worker);
    worker.on('message', (msg: { listening?: string }) => {
      if (msg?.listening && ++listening === count)
        console.log(`koa-lighty ${version()} listening on ${msg.listening} with ${count} workers`);
    });
    worker.on('exit', (code) => {
      workers.delete(worker);
      if (stopping) return;
      supervisor.log.error('server', `worker ${index} exited with ${code}; starting it again`);
      setTimeout(() => fork(index), 500);
    });
  };
  for (let i = 0; i < count; i++) fork(i);
  return new Promise<number>((resolve) => {
    const stop = () => {
      if (stopping) return;
      stopping = true;
      for (const worker of workers) worker.process.kill('SIGTERM');
      const wait = setInterval(() => {
        if (workers.size > 0) return;
        clearInterval(wait);
        supervisor.stop().finally(() => resolve(0));
      }, 50);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

/**
 * Where this process listens: the sockets systemd handed over when the config asks for them
 * and some were passed (else the config's listeners, as lighttpd falls back), or, in a
 * worker, the primary's.
 */
function listenersOf(loaded: import('./app.js').LoadedConfig, isWorker: boolean): Listener[] {
  const fds = isWorker
    ? process.env[WORKER_SOCKETS]?.split(',').map((fd) => ({ fd: Number(fd) }))
    : loaded.server.socketActivation
      ? activatedSockets()
      : undefined;
  return fds ? inheritedListeners(fds, loaded.listeners) : loaded.listeners;
}
