/**
 * `koa-lighty -f lighttpd.conf --workers 2`: two node:cluster workers share the port and the
 * php-cgi the primary spawned (fastcgi.server bin-path, PHP_FCGI_CHILDREN 4), and the
 * trigger-before-download file database (gdbm-filename, LMDB here). Load is spread over both
 * workers; SIGTERM takes everything down with exit 0.
 *
 * Which worker holds a connection is read from /proc: each worker's open sockets
 * (/proc/PID/fd → socket:[inode]) against the established connections to the server's port
 * (/proc/net/tcp). In cluster mode on Linux the primary hands each accepted connection to one
 * worker and closes its own copy.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import { rawRequest } from './helpers/http.js';
import {
  descendantPids,
  isNodeProcess,
  PACKAGE_ROOT,
  processName,
  startKoaLighty,
  stillAlive,
} from './helpers/koa-lighty.js';
import { socketInodes, TCP_ESTABLISHED, tcpSocketInodes } from './helpers/ports.js';
import { eventually } from './helpers/wait.js';

const E2E2 = join(PACKAGE_ROOT, 'fixtures', 'conf', 'e2e2');

/** GET over a keep-alive agent; resolves to status and body. */
function get(agent: Agent, port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode!, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

test('--workers 2: both workers serve PHP, share the trigger file database, and SIGTERM stops everything (exit 0)', async (t) => {
  const sockdir = mkdtempSync(join(tmpdir(), 'koa-lighty-workers-'));
  t.teardown(() => rmSync(sockdir, { recursive: true, force: true }));
  const server = await startKoaLighty({
    conf:
      `var.e2e2 = "${E2E2}"\nvar.sockdir = "${sockdir}"\ninclude e2e2 + "/workers.conf"\n` +
      'server.port = PORT\nserver.bind = "127.0.0.1"\n',
    args: ['--workers', '2'],
  });
  let stopped = false;
  t.teardown(async () => {
    if (!stopped) await server.stop();
  });
  t.regex(server.output(), new RegExp(`listening on http://127\\.0\\.0\\.1:${server.port} with 2 workers`));

  const phpCgi = () => descendantPids(server.pid).filter((pid) => processName(pid) === 'php-cgi');
  const workers = descendantPids(server.pid).filter(isNodeProcess);
  t.is(workers.length, 2, `node workers: ${workers.join(', ')}`);
  // One php-cgi master and its 4 children, spawned once by the primary, not once per worker
  // (the master forks its children once it runs, on the socket it was given).
  await eventually(() => phpCgi().length === 5);
  const php = phpCgi();
  t.is(php.length, 5, `php-cgi: ${php.join(', ')}`);

  // trigger-before-download on the shared file: a download before any visit is refused...
  const first = await rawRequest(server.port, '/downloads/movie.mpg');
  t.is(first.status, 307);
  t.is(first.headers['location'], '/visit-first.html');
  // ...one visit (on whichever worker) lets every later download through, on either worker.
  t.is((await rawRequest(server.port, '/')).status, 200);
  const movie = readFileSync(join(E2E2, 'www', 'downloads', 'movie.mpg'));
  const downloads = await Promise.all(
    Array.from({ length: 40 }, () => rawRequest(server.port, '/downloads/movie.mpg')),
  );
  t.deepEqual(
    downloads.map((d) => d.status),
    downloads.map(() => 200),
  );
  t.true(downloads.every((d) => d.body.equals(movie)));

  // 200 PHP requests, 16 at a time over 16 kept-alive connections.
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  t.teardown(() => agent.destroy());
  let next = 0;
  const failures: string[] = [];
  let ok = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < 200) {
        next++;
        const answer = await get(agent, server.port, '/hello.php');
        if (answer.status === 200 && /^hello from php-cgi \d+\n$/.test(answer.body)) ok++;
        else failures.push(`${answer.status} ${answer.body.slice(0, 80)}`);
      }
    }),
  );
  t.deepEqual(failures, []);
  t.is(ok, 200);

  // The connections are still open (keep-alive): each is held by exactly one worker.
  const connections = tcpSocketInodes(server.port, TCP_ESTABLISHED);
  const perWorker = workers.map((pid) => [...socketInodes(pid)].filter((i) => connections.has(i)).length);
  t.true(
    perWorker.every((n) => n > 0),
    `client connections per worker: ${perWorker.join(', ')}`,
  );
  t.log(`client connections per worker (${workers.join(', ')}): ${perWorker.join(', ')}`);
  const open = Object.values(agent.freeSockets).reduce((n, list) => n + (list?.length ?? 0), 0);
  t.true(open >= 2, `${open} kept-alive connections`);
  t.is(
    perWorker.reduce((a, b) => a + b, 0),
    open,
    `client connections per worker: ${perWorker.join(', ')}`,
  );
  agent.destroy();

  const code = await server.stop();
  stopped = true;
  t.is(code, 0, server.output());
  t.deepEqual(await stillAlive([...workers, ...php], 5000), [], 'workers or php-cgi left running');
  t.deepEqual(
    readdirSync(sockdir).filter((name) => name.startsWith('php.socket')),
    [],
    'php-cgi socket left behind',
  );
});

test('--workers 2: start-up warnings go to server.errorlog, each once (not once per process)', async (t) => {
  const sockdir = mkdtempSync(join(tmpdir(), 'koa-lighty-workers-'));
  t.teardown(() => rmSync(sockdir, { recursive: true, force: true }));
  const errorLog = join(sockdir, 'error.log');
  const server = await startKoaLighty({
    // The secdownload block has no algorithm line (md5, one warning); error-intercept is
    // not supported (one warning).
    conf:
      `var.e2e2 = "${E2E2}"\nvar.sockdir = "${sockdir}"\ninclude e2e2 + "/secdownload.conf"\n` +
      `server.errorlog = "${errorLog}"\nserver.error-intercept = "enable"\n` +
      'server.port = PORT\nserver.bind = "127.0.0.1"\n',
    args: ['--workers', '2'],
  });
  t.teardown(() => server.stop());
  t.is((await rawRequest(server.port, '/')).status, 200);
  // The log is written through a stream: wait for both lines, then long enough for a second copy.
  let text = '';
  const count = (needle: string) => text.split('\n').filter((line) => line.includes(needle)).length;
  await eventually(() => {
    text = existsSync(errorLog) ? readFileSync(errorLog, 'utf8') : '';
    return count('server.error-intercept') > 0 && count('secdownload.algorithm') > 0;
  });
  await sleep(200);
  text = readFileSync(errorLog, 'utf8');
  t.is(count('server.error-intercept'), 1, `error log:\n${text}\nstdout/stderr:\n${server.output()}`);
  t.is(count('secdownload.algorithm'), 1, `error log:\n${text}\nstdout/stderr:\n${server.output()}`);
});
