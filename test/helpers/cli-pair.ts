/**
 * lighttpd 1.4.69 and the `koa-lighty` command (startKoaLighty: the compiled CLI, as a user
 * runs it, so server-wide options such as server.max-connections and the idle times act) on
 * the same config text, each with its own directory for the php-cgi sockets that a
 * fastcgi.server bin-path spawns. same-conf.ts serves koa-lighty's app in this process
 * instead, without the CLI's HTTP server.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningKoaLighty, startKoaLighty } from './koa-lighty.js';
import { type RunningLighttpd, startLighttpd } from './lighttpd.js';

export interface CliPair {
  lighttpd: RunningLighttpd;
  koa: RunningKoaLighty;
  /** [name, port] of each server, lighttpd first: run the same scenario on both. */
  servers: Array<[name: 'lighttpd' | 'koa-lighty', port: number]>;
  close(): Promise<void>;
}

/**
 * @param conf the config for one server's socket directory, without server.port,
 *             server.bind, server.pid-file and server.errorlog.
 */
export async function startCliPair(conf: (sockdir: string) => string): Promise<CliPair> {
  const dirs = [0, 1].map(() => mkdtempSync(join(tmpdir(), 'koa-lighty-pair-')));
  const remove = () => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  };
  const [lighttpd, koa] = await Promise.allSettled([
    startLighttpd(conf(dirs[0]!)),
    startKoaLighty({ conf: `${conf(dirs[1]!)}\nserver.port = PORT\nserver.bind = "127.0.0.1"\n` }),
  ]);
  if (lighttpd.status === 'rejected' || koa.status === 'rejected') {
    await Promise.allSettled([
      lighttpd.status === 'fulfilled' && lighttpd.value.stop(),
      koa.status === 'fulfilled' && koa.value.stop(),
    ]);
    remove();
    throw lighttpd.status === 'rejected' ? lighttpd.reason : (koa as PromiseRejectedResult).reason;
  }
  return {
    lighttpd: lighttpd.value,
    koa: koa.value,
    servers: [
      ['lighttpd', lighttpd.value.port],
      ['koa-lighty', koa.value.port],
    ],
    async close() {
      await Promise.allSettled([lighttpd.value.stop(), koa.value.stop()]);
      remove();
    },
  };
}
