import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningDaemon, startDaemon } from './daemon.js';
import { onFreePort } from './ports.js';

/**
 * Debian's nginx (nginx-light: it has auth_request), started by a test with the server block it
 * writes, on a free port of 127.0.0.1, in the foreground as our own child (`-g 'daemon off;'`,
 * master and one worker), and stopped by the master's pid.
 */
export const NGINX = '/usr/sbin/nginx';

/** Its temp dir holds nginx.conf, the pid file, the error log and the temp paths. */
export type RunningNginx = RunningDaemon;

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
    return startDaemon({
      name: 'nginx',
      command: NGINX,
      args: ['-p', dir, '-c', conf, '-g', 'daemon off;'],
      ports: [port],
      dir,
      errorLog,
    });
  });
}
