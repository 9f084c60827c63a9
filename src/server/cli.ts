import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServerSettings } from '../config/mapping.js';
import { parseServerArgs, USAGE, UsageError } from './args.js';
import { createHttpServer } from './http-server.js';
import { activatedSockets, describeAddress, type ListenAddress, listenOn } from './listen.js';
import { WORKER_SOCKETS } from './primary.js';

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
    `\t+ OpenSSL support (crypto of secdownload: Node's OpenSSL ${process.versions.openssl}; no TLS listener yet)`,
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
  const addresses = listenAddresses(loaded.server, lifecycle.app.listen, worker !== undefined);
  const servers = addresses.map(() =>
    createHttpServer(lifecycle.handler, {
      maxRequestFieldSize: loaded.server.maxRequestFieldSize,
      connectionLimits: loaded.server.connectionLimits,
      // lighttpd counts per process, with server.max-worker too: each worker has the limit.
      maxConnections: loaded.server.maxConnections,
      log: lifecycle.log,
    }),
  );
  return lifecycle.run(
    servers,
    () => Promise.all(servers.map((server, i) => listenOn(server, addresses[i]!))),
    (bound) => {
      const where = bound.map(describeAddress).join(', ');
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
 * and some were passed (else server.bind/server.port, as lighttpd falls back), or, in a
 * worker, the primary's.
 */
function listenAddresses(
  server: ServerSettings,
  configured: ListenAddress,
  isWorker: boolean,
): ListenAddress[] {
  if (isWorker) {
    const fds = process.env[WORKER_SOCKETS];
    return fds ? fds.split(',').map((fd) => ({ fd: Number(fd) })) : [configured];
  }
  return (server.socketActivation && activatedSockets()) || [configured];
}
