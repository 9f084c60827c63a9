/**
 * `--workers N`: the primary spawns php-cgi once and forks N workers that share the port; each
 * worker talks to the primary's php-cgi as a remote backend with its share of the connections.
 * Signals come to the primary (systemd's MAINPID): SIGUSR1 re-reads the config, restarts the
 * php-cgi whose options changed and has every worker reload; SIGHUP reopens the primary's log
 * files and every worker's; SIGINT/SIGTERM stop the workers, then php-cgi.
 */
import cluster, { type Worker } from 'node:cluster';
import { reopenLogFiles } from '../accesslog/output.js';
import { createBackendSupervisor, type LoadedConfig } from './app.js';
import { restartOnlyChanges } from './lifecycle.js';
import { activatedSockets } from './listen.js';
import { inheritedListeners } from './serve-listeners.js';

/** The env variable that hands a primary's inherited sockets on to its workers (--workers). */
export const WORKER_SOCKETS = 'KOA_LIGHTY_ACTIVATED_FDS';

/** How long the primary waits for the workers to finish their old requests before it stops old php-cgi. */
const WORKERS_RELOAD_DEADLINE_MS = 70_000;

export interface PrimaryOptions {
  count: number;
  loaded: LoadedConfig;
  /** Reads the config file again (SIGUSR1); throws a ConfigError naming file and line. */
  reload(): LoadedConfig;
  /** Printed once every worker listens. */
  announce(where: string): void;
}

export async function runPrimary(options: PrimaryOptions): Promise<number> {
  const { count } = options;
  let loaded = options.loaded;
  let supervisor = createBackendSupervisor(loaded);
  const log = supervisor.log;
  for (const warning of loaded.warnings) log.warn('config', warning);
  await supervisor.start();
  const workers = new Set<Worker>();
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
      if (msg?.listening && ++listening === count) options.announce(msg.listening);
    });
    worker.on('exit', (code) => {
      workers.delete(worker);
      if (stopping) return;
      log.error('server', `worker ${index} exited with ${code}; starting it again`);
      setTimeout(() => fork(index), 500);
    });
  };
  for (let i = 0; i < count; i++) fork(i);

  /** Tells every worker to reload; resolves once each answered (or exited). */
  const reloadWorkers = () =>
    Promise.all(
      [...workers].map(
        (worker) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(finish, WORKERS_RELOAD_DEADLINE_MS);
            function finish() {
              clearTimeout(timer);
              worker.off('message', answered);
              worker.off('exit', finish);
              resolve();
            }
            function answered(msg: { reloaded?: boolean }) {
              if (msg?.reloaded !== undefined) finish();
            }
            worker.on('message', answered);
            worker.once('exit', finish);
            worker.send({ koaLighty: 'reload' });
          }),
      ),
    );

  let reloading = Promise.resolve();
  const reload = async () => {
    if (stopping) return;
    let next: LoadedConfig;
    let nextSupervisor: typeof supervisor;
    try {
      next = options.reload();
      nextSupervisor = createBackendSupervisor(next, log, supervisor);
    } catch (error) {
      log.error(
        'server',
        `SIGUSR1: the config was not reloaded, the running one stays: ${(error as Error).message}`,
      );
      return;
    }
    for (const warning of next.warnings) log.warn('config', warning);
    for (const name of restartOnlyChanges(loaded.server, next.server))
      log.warn('server', `SIGUSR1: ${name} changed; that takes a full restart (stop and start)`);
    const old = supervisor;
    supervisor = nextSupervisor;
    loaded = next;
    // php-cgi on a new address starts now; one on the same address with changed options
    // once the old one is stopped, below: the workers' requests to it wait meanwhile.
    const started = nextSupervisor.start().catch((error: Error) => {
      log.error('server', `SIGUSR1: starting the new backends failed: ${error.message}`);
    });
    await reloadWorkers();
    // The workers' old apps are done: the php-cgi no one took over can go.
    await old.stop();
    await started;
    log.info('server', `SIGUSR1: ${next.file} reloaded`);
  };

  return new Promise<number>((resolve) => {
    const stop = () => {
      if (stopping) return;
      stopping = true;
      for (const worker of workers) worker.process.kill('SIGTERM');
      const wait = setInterval(() => {
        if (workers.size > 0) return;
        clearInterval(wait);
        reloading.finally(() => supervisor.stop().finally(() => resolve(0)));
      }, 50);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    process.on('SIGUSR1', () => {
      reloading = reloading.then(reload);
    });
    process.on('SIGHUP', () => {
      reopenLogFiles();
      log.info('server', 'SIGHUP: log files reopened');
      for (const worker of workers) worker.send({ koaLighty: 'reopen' });
    });
  });
}
