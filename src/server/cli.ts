import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseServerArgs, USAGE, UsageError } from './args.js';
import { createHttpServer } from './http-server.js';
import { alpnProtocols } from './http2-server.js';
import { activatedSockets, describeAddress } from './listen.js';
import type { Listener } from './listeners.js';
import { WORKER_SOCKETS } from './primary.js';
import { inheritedListeners, serveListeners } from './serve-listeners.js';

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
  const { loadConfig } = await import('./app.js');
  const loadOptions = {
    env: {
      ...process.env,
      KOA_LIGHTY_HOME: packageRoot,
      KOA_LIGHTY_DEMO_PORT: process.env.KOA_LIGHTY_DEMO_PORT ?? '8080',
    },
  };
  const loaded = loadConfig(configFile, loadOptions);
  if (args.test) {
    for (const warning of loaded.warnings) console.error(`koa-lighty: warning: ${warning}`);
    console.log(`Syntax OK`);
    return 0;
  }
  if (args.print) {
    console.log(JSON.stringify(loaded.print(), null, 2));
    return 0;
  }

  const reload = () => loadConfig(configFile, loadOptions);
  if (args.workers > 1 && cluster.isPrimary) {
    const { runPrimary } = await import('./primary.js');
    return runPrimary({
      count: args.workers,
      loaded,
      reload,
      announce: (where) =>
        console.log(`koa-lighty ${version()} listening on ${where} with ${args.workers} workers`),
    });
  }

  const worker = cluster.isWorker
    ? { index: Number(process.env.KOA_LIGHTY_WORKER ?? 0), count: args.workers }
    : undefined;
  const { ServerLifecycle } = await import('./lifecycle.js');
  const lifecycle = new ServerLifecycle({ loaded, reload, worker });
  if (!worker) for (const warning of loaded.warnings) lifecycle.log.warn('config', warning);
  const served = serveListeners(
    listenersOf(loaded, worker !== undefined),
    () =>
      createHttpServer(lifecycle.handler, {
        maxRequestFieldSize: loaded.server.maxRequestFieldSize,
        connectionLimits: loaded.server.connectionLimits,
        // lighttpd counts per process, with server.max-worker too: each worker has the limit.
        maxConnections: loaded.server.maxConnections,
        // HTTP/2 with prior knowledge on clear-text sockets and by ALPN on TLS ones, unless
        // server.feature-flags turns server.h2proto off.
        http2: loaded.server.http2,
        log: lifecycle.log,
      }),
    lifecycle.log,
    loaded.server.connectionLimits.readIdleMs,
    alpnProtocols(loaded.server.http2),
  );
  // SIGUSR1 also re-reads every TLS listener's certificates (they follow their files anyway).
  // The sockets stay as they were started: a listener or TLS setting the new file changes
  // (another port, another ssl.pemfile path) takes a full restart, which is said.
  const started = JSON.stringify(loaded.listeners);
  lifecycle.onReload((next) => {
    served.reload();
    if (JSON.stringify(next.listeners) !== started)
      lifecycle.log.warn(
        'server',
        'SIGUSR1: the listeners or their TLS settings changed; that takes a full restart (stop and start)',
      );
  });
  lifecycle.onStop(() => served.close());
  return lifecycle.run(
    served.http,
    () => served.listen(),
    (bound) => {
      const where = bound
        .map((address, i) => {
          const text = describeAddress(address);
          return served.servers[i]!.contexts ? text.replace(/^http:/, 'https:') : text;
        })
        .join(', ');
      if (!worker) {
        console.log(`koa-lighty ${version()} listening on ${where} (${configFile})`);
        if (demo) for (const line of lifecycle.app.demoLinks(bound[0]!)) console.log(line);
      } else {
        process.send?.({ listening: where });
      }
    },
  );
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
