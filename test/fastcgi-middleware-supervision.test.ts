/**
 * php-cgi dying under a request, as a user sees it through HTTP: the request in flight gets
 * 502 (not a hang, not a crash), and once the supervisor has respawned php-cgi the site works
 * again without a restart.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { memoryLogger } from '../src/log.js';
import type { FastCgiHost } from '../src/middleware/fastcgi.js';
import { fastcgiApp } from './fastcgi-middleware-app.js';
import { PHP_FIXTURES } from './helpers/php-cgi.js';
import { socketHolders, unixListenerInodes } from './helpers/ports.js';
import { eventually } from './helpers/wait.js';

/** Pids of the processes that lead a group and hold the socket listening at `socket`: php-cgi (the socket is in our temp dir). */
function phpCgiLeaders(socket: string): number[] {
  return socketHolders(unixListenerInodes(socket)).filter((pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const pgid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      return pgid === pid;
    } catch {
      return false; // the process ended while we looked
    }
  });
}

/**
 * Whether a process of the group `leader` leads sleeps in a timer: a worker inside
 * fcgi-sleep.php's usleep(), so the request has reached PHP (Linux: /proc/PID/wchan).
 */
function sleepsInAScript(leader: number): boolean {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) !== leader) continue;
      if (readFileSync(`/proc/${entry}/wchan`, 'utf8').includes('nanosleep')) return true;
    } catch {
      // the process ended while we looked
    }
  }
  return false;
}

/** fastcgi() spawning php-cgi on a socket in a temp dir, in a Koa app on a free port. */
async function spawnedSite(t: ExecutionContext, prefix: string, host: Partial<FastCgiHost> = {}) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const socket = join(dir, 'php.sock');
  const log = memoryLogger();
  const { server } = await fastcgiApp(t, {
    documentRoot: PHP_FIXTURES,
    backends: [{ key: '.php', hosts: [{ binPath: 'php-cgi', socket, maxProcs: 1, ...host }] }],
    log,
  });
  return { socket, log, server };
}

test('php-cgi killed during a request: that request gets 502, the next ones succeed after the respawn', async (t) => {
  const { socket, server } = await spawnedSite(t, 'koa-lighty-supervision-', { phpFcgiChildren: 2 });

  const [leader] = phpCgiLeaders(`${socket}-0`);
  t.truthy(leader, 'the supervisor spawned php-cgi on socket-0');
  const inFlight = fetch(`${server.url}/fcgi-sleep.php?ms=5000`);
  // Killed once PHP runs the script (before that, the request's connect would be refused: 503).
  t.true(await eventually(() => sleepsInAScript(leader!)));
  process.kill(-leader!, 'SIGKILL');

  const killed = await inFlight;
  t.is(killed.status, 502);
  t.regex(await killed.text(), /<title>502 Bad Gateway<\/title>/);

  // The supervisor respawns with a short back-off; meanwhile requests may be refused (503).
  const deadline = Date.now() + 10_000;
  let answer: Response | undefined;
  while (Date.now() < deadline) {
    answer = await fetch(`${server.url}/fcgi-sleep.php?ms=1`);
    if (answer.status === 200) break;
    t.true([502, 503].includes(answer.status), `while respawning: ${answer.status}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  t.is(answer?.status, 200);
  t.regex(await answer!.text(), /^slept \d+/);
  const [respawned] = phpCgiLeaders(`${socket}-0`);
  t.truthy(respawned);
  t.not(respawned, leader);
  for (let i = 0; i < 5; i++) t.is((await fetch(`${server.url}/fcgi-sleep.php?ms=1`)).status, 200);
});

test("both of PHP's stderr reach the error log: error_log() (FCGI_STDERR) and php://stderr (the process's own)", async (t) => {
  const { log, server } = await spawnedSite(t, 'koa-lighty-stderr-');
  const res = await fetch(`${server.url}/fcgi-stderr.php`);
  t.is(await res.text(), 'ok');
  const deadline = Date.now() + 3000;
  while (!log.lines.some((l) => l.includes('via php://stderr')) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  t.true(
    log.lines.some((l) => l.includes('fcgi-stderr: via error_log')),
    log.lines.join('\n'),
  );
  t.true(
    log.lines.some((l) => l.includes('fcgi-stderr: via php://stderr')),
    log.lines.join('\n'),
  );
});
