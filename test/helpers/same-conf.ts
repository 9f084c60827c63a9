/**
 * lighttpd 1.4.69 and koa-lighty's lighttpd.conf front end (createApp(loadConfig(file)), in
 * this process) started on the same config text, each with its own directory for the php-cgi
 * sockets that fastcgi.server's bin-path spawns. Both are stopped by close().
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { type Logger, memoryLogger } from '../../src/log.js';
import { createApp, type LoadedConfig, loadConfig } from '../../src/server/app.js';
import { type RawResponse, rawRequest, serve } from './http.js';
import { type RunningLighttpd, startLighttpd } from './lighttpd.js';

export interface BothServers {
  lighttpd: RunningLighttpd;
  /** koa-lighty's port. */
  koaPort: number;
  /** What koa-lighty wrote to its error log. */
  koaLog: Logger & { lines: string[] };
  /** loadConfig's answer for the koa-lighty side (its start-up warnings). */
  loaded: LoadedConfig;
  /** The directory each server's config was made for (conf's argument). */
  dirs: { lighttpd: string; koa: string };
  /** The same raw request to both: [lighttpd's answer, koa-lighty's]. */
  both(path: string, headers?: Record<string, string>): Promise<[RawResponse, RawResponse]>;
  close(): Promise<void>;
}

/**
 * @param conf the config for a socket directory; without server.port, server.bind,
 *             server.pid-file and server.errorlog (the lighttpd helper adds them).
 */
export async function startBoth(conf: (sockdir: string) => string): Promise<BothServers> {
  const lighttpdSockets = mkdtempSync(join(tmpdir(), 'koa-lighty-same-l-'));
  const koaDir = mkdtempSync(join(tmpdir(), 'koa-lighty-same-k-'));
  const removeDirs = () => {
    rmSync(lighttpdSockets, { recursive: true, force: true });
    rmSync(koaDir, { recursive: true, force: true });
  };
  const file = join(koaDir, 'lighttpd.conf');
  writeFileSync(file, conf(koaDir));
  const koaLog = memoryLogger();
  let lighttpd: RunningLighttpd | undefined;
  let lighty: ReturnType<typeof createApp> | undefined;
  try {
    const loaded = loadConfig(file);
    lighty = createApp(loaded, { log: koaLog });
    const [started, ready] = await Promise.allSettled([startLighttpd(conf(lighttpdSockets)), lighty.ready()]);
    if (started.status === 'fulfilled') lighttpd = started.value;
    if (started.status === 'rejected') throw started.reason;
    if (ready.status === 'rejected') throw ready.reason;
    const served = await serve(lighty.app);
    const running = { lighttpd: lighttpd!, lighty };
    return {
      lighttpd: running.lighttpd,
      koaPort: served.port,
      koaLog,
      loaded,
      dirs: { lighttpd: lighttpdSockets, koa: koaDir },
      both: (path, headers) =>
        Promise.all([
          rawRequest(running.lighttpd.port, path, headers),
          rawRequest(served.port, path, headers),
        ]),
      async close() {
        await served.close();
        await Promise.allSettled([running.lighty.close(), running.lighttpd.stop()]);
        removeDirs();
      },
    };
  } catch (error) {
    await Promise.allSettled([lighty?.close(), lighttpd?.stop()]);
    removeDirs();
    throw error;
  }
}

/** What a user sees of an answer: status, the headers that matter, the body. */
export function seen(response: RawResponse, extraHeaders: string[] = []) {
  const view: Record<string, string | number | undefined> = {
    status: response.status,
    'content-type': response.headers['content-type'],
    location: response.headers['location'],
    body: response.body.toString('latin1'),
  };
  for (const name of extraHeaders) view[name] = response.headers[name];
  return view;
}

/**
 * Both servers for all the tests of one file: started before them, closed after them, then
 * `cleanup` (the file's document root, say). The getter is for use inside the tests.
 */
export function bothForFile(
  conf: (sockdir: string) => string,
  cleanup: () => void = () => {},
): () => BothServers {
  let servers: BothServers | undefined;
  test.before(async () => {
    servers = await startBoth(conf);
  });
  test.after.always(async () => {
    await servers?.close();
    cleanup();
  });
  return () => {
    if (!servers) throw new Error('bothForFile: the servers did not start');
    return servers;
  };
}
