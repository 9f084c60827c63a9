/**
 * SIGUSR1: a graceful restart. koa-lighty reads its config file again and new requests get
 * the new config, on the sockets and connections already open; a request running at the time
 * finishes on the old config; php-cgi keeps running unless its options changed; a file that
 * does not load changes nothing and the error log says why. With --workers, every worker
 * follows. Real php-cgi, the real CLI, signals sent by pid.
 */
import { existsSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import test from 'ava';
import { httpGet } from './helpers/http.js';
import {
  descendantPids,
  processName,
  type RunningKoaLighty,
  startKoaLighty,
  stillAlive,
} from './helpers/koa-lighty.js';
import { type SignalSite, signalSite } from './helpers/signal-site.js';
import { eventually } from './helpers/wait.js';

const DENY_TXT = 'url.access-deny = ( ".txt" )';
/**
 * No limit on how long the previous config's requests may run (lighttpd's default is 8 s):
 * the held request must outlast a reload on a loaded machine; the limit has a test of its own.
 */
const NO_CUT = 'server.feature-flags = ( "server.graceful-shutdown-timeout" => 0 )';
/** Generous bounds for a loaded machine: they only decide how long a failure takes to show. */
const LONG = 30_000;

async function start(t: import('ava').ExecutionContext, args: string[] = []) {
  const site = signalSite();
  t.teardown(() => site.remove());
  const server = await startKoaLighty({ conf: site.conf(), args });
  t.teardown(() => server.stop());
  return { site, server };
}

/** Rewrites the running server's config file (the port stays the one it listens on). */
function rewriteConf(server: RunningKoaLighty, site: SignalSite, extra = '', phpEnv = '') {
  writeFileSync(server.confFile!, site.conf(extra, phpEnv).replace(/\bPORT\b/g, String(server.port)));
}

/** The files a process has open, from /proc. */
function openFiles(pid: number): string[] {
  return readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
    try {
      return [readlinkSync(`/proc/${pid}/fd/${fd}`)];
    } catch {
      return []; // closed while we looked
    }
  });
}

function phpCgiPids(server: RunningKoaLighty): number[] {
  return descendantPids(server.pid)
    .filter((pid) => processName(pid) === 'php-cgi')
    .sort((a, b) => a - b);
}

/** php-cgi's master and its two children, once all three run. */
async function phpCgiRunning(server: RunningKoaLighty): Promise<number[]> {
  await eventually(() => phpCgiPids(server).length === 3, LONG);
  return phpCgiPids(server);
}

interface Answer {
  status: number;
  body: string;
  localPort: number;
}

function get(port: number, path: string, agent: Agent | false): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = '';
      const localPort = res.socket.localPort!;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode!, body, localPort }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Requests on one kept-alive connection, one after the other, until stopped. */
function keepAliveClient(port: number, path: string) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const answers: Answer[] = [];
  const errors: Error[] = [];
  let running = true;
  const done = (async () => {
    while (running) {
      try {
        answers.push(await get(port, path, agent));
      } catch (error) {
        errors.push(error as Error);
      }
    }
    agent.destroy();
  })();
  return {
    answers,
    errors,
    stop: async () => {
      running = false;
      await done;
    },
  };
}

/** A GET of /hold.php whose first bytes have arrived: it runs until site.release exists. */
function heldRequest(port: number): Promise<{ finished: Promise<{ status: number; body: string }> }> {
  return new Promise((resolveStarted, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/hold.php', agent: false }, (res) => {
      let body = '';
      let started = false;
      res.setEncoding('utf8');
      const finished = new Promise<{ status: number; body: string }>((resolve, rejectFinished) => {
        res.on('data', (chunk: string) => {
          body += chunk;
          if (!started && body.includes('started')) {
            started = true;
            resolveStarted({ finished });
          }
        });
        res.on('end', () => resolve({ status: res.statusCode!, body }));
        res.on('error', rejectFinished);
      });
    });
    req.on('error', reject);
    req.end();
  });
}

test('SIGUSR1 under a keep-alive client: no request fails, the same connection goes on, new requests see the new url.access-deny, a running PHP request finishes with 200, php-cgi stays', async (t) => {
  const { site, server } = await start(t);
  const phpBefore = await phpCgiRunning(server);
  t.is((await httpGet(server.port, '/secret.txt')).status, 200);

  const held = await heldRequest(server.port);
  const client = keepAliveClient(server.port, '/secret.txt');
  t.true(await eventually(() => client.answers.length >= 3, LONG), 'the client runs');

  rewriteConf(server, site, `${DENY_TXT}\n${NO_CUT}`);
  process.kill(server.pid, 'SIGUSR1');
  const denied = await eventually(() => client.answers.some((a) => a.status === 403), LONG);
  // A few more on the same connection after the change.
  const seen = client.answers.length;
  await eventually(() => client.answers.length >= seen + 3, LONG);
  await client.stop();

  t.true(
    denied,
    `statuses: ${[...new Set(client.answers.map((a) => a.status))].join(', ')}\n${site.errors()}`,
  );
  t.deepEqual(client.errors, []);
  t.deepEqual([...new Set(client.answers.map((a) => a.status))].sort(), [200, 403]);
  const firstDenied = client.answers.findIndex((a) => a.status === 403);
  t.true(
    client.answers.slice(firstDenied).every((a) => a.status === 403),
    'once the new rule holds, it holds for every later request',
  );
  t.is(new Set(client.answers.map((a) => a.localPort)).size, 1, 'one connection throughout');
  // New connections get the new config too.
  t.is((await httpGet(server.port, '/secret.txt')).status, 403);
  t.is((await httpGet(server.port, '/index.html')).status, 200);

  // The old app stays open while its request runs: both apps have the access log open.
  const accessLogFds = () => openFiles(server.pid).filter((file) => file === site.accessLog).length;
  t.is(accessLogFds(), 2);
  // The request that was running at the reload finishes on the old app.
  writeFileSync(site.release, '');
  const answer = await held.finished;
  t.is(answer.status, 200);
  t.true(answer.body.endsWith('started\nfinished'), answer.body.slice(-40));
  // Then the old app is closed: of the access log, only the new app's descriptor stays open.
  t.true(await eventually(() => accessLogFds() === 1, LONG), `${accessLogFds()} open`);

  // php-cgi's options did not change: the same processes serve on.
  t.is((await httpGet(server.port, '/pid.php')).status, 200);
  t.deepEqual(phpCgiPids(server), phpBefore);
  t.regex(site.errors(), /\(server\) SIGUSR1: .*lighttpd\.conf reloaded/);
});

test('SIGUSR1: a request of the previous config that outlasts server.graceful-shutdown-timeout is cut, and the error log says so', async (t) => {
  const { site, server } = await start(t);
  await phpCgiRunning(server);
  const held = await heldRequest(server.port);
  const outcome = held.finished.then(
    (answer) => `finished: ${answer.body.slice(-20)}`,
    (error: Error) => `cut: ${error.message}`,
  );
  rewriteConf(
    server,
    site,
    `${DENY_TXT}\nserver.feature-flags = ( "server.graceful-shutdown-timeout" => 1 )`,
  );
  process.kill(server.pid, 'SIGUSR1');
  t.true(
    await eventually(
      () => /still running after 1 s \(server\.graceful-shutdown-timeout\): cut/.test(site.errors()),
      LONG,
    ),
    site.errors(),
  );
  // The script is still waiting for its release file: what the client got is not its end.
  const got = await outcome;
  t.false(got.includes('finished'), got);
  t.is((await httpGet(server.port, '/secret.txt')).status, 403);
});

test('SIGUSR1 with a config that does not load: the running config stays and the error log names the file and line', async (t) => {
  const { site, server } = await start(t);
  rewriteConf(server, site, 'url.access-deny = ( ".txt" \nserver.tag = ');
  process.kill(server.pid, 'SIGUSR1');
  t.true(await eventually(() => /not reloaded/.test(site.errors()), LONG), site.errors());
  t.regex(
    site.errors(),
    /\(server\) SIGUSR1: the config was not reloaded, the running one stays: \S+lighttpd\.conf:\d+: /,
  );
  t.is((await httpGet(server.port, '/secret.txt')).status, 200, 'the old config still serves');
  t.is((await httpGet(server.port, '/pid.php')).status, 200);

  // A file that parses but cannot be built (an access log in a missing directory): the same.
  const php = await phpCgiRunning(server);
  // In a block, after one whose log opens fine: what was opened before the failure is closed.
  const opened = `${site.dir}/other.log`;
  rewriteConf(
    server,
    site,
    `${DENY_TXT}\n$HTTP["url"] =^ "/other/" { accesslog.filename = "${opened}" }\n` +
      `$HTTP["url"] =^ "/logged/" { accesslog.filename = "${site.dir}/missing/access.log" }`,
  );
  process.kill(server.pid, 'SIGUSR1');
  const refused = () => site.errors().match(/not reloaded/g)?.length ?? 0;
  t.true(await eventually(() => refused() === 2, LONG), site.errors());
  t.regex(
    site.errors(),
    /not reloaded, the running one stays: \S+lighttpd\.conf:\d+: .*missing\/access\.log/,
  );
  t.true(existsSync(opened), 'the block before the failing one was built');
  t.true(
    await eventually(() => !openFiles(server.pid).includes(opened), LONG),
    'its log file is closed again',
  );
  t.is((await httpGet(server.port, '/secret.txt')).status, 200);

  // A later good file is taken.
  rewriteConf(server, site, DENY_TXT);
  process.kill(server.pid, 'SIGUSR1');
  t.true(await eventually(() => /reloaded\n/.test(site.errors()), LONG), site.errors());
  t.is((await httpGet(server.port, '/secret.txt')).status, 403);
  // The failed attempts hold nothing: stopping still stops php-cgi.
  t.deepEqual(phpCgiPids(server), php);
  t.is(await server.stop(), 0);
  t.deepEqual(await stillAlive(php, LONG), []);
});

test('SIGUSR1 with changed php-cgi options (bin-environment): new php-cgi processes, the old ones stop, PHP keeps answering', async (t) => {
  const { site, server } = await start(t);
  const phpBefore = await phpCgiRunning(server);
  rewriteConf(server, site, '', ', "CHANGED" => "1"');
  process.kill(server.pid, 'SIGUSR1');
  t.deepEqual(await stillAlive(phpBefore, LONG), [], 'the old php-cgi stopped');
  const phpAfter = await phpCgiRunning(server);
  t.true(
    phpAfter.every((pid) => !phpBefore.includes(pid)),
    `before ${phpBefore.join(',')} after ${phpAfter.join(',')}`,
  );
  const answer = await httpGet(server.port, '/pid.php');
  t.is(answer.status, 200);
  t.true(phpAfter.includes(Number(answer.body.toString())), `pid.php ran in ${answer.body}`);
});

test('--workers 2: SIGUSR1 to the primary reloads every worker; php-cgi (spawned by the primary) stays', async (t) => {
  const { site, server } = await start(t, ['--workers', '2']);
  const phpBefore = await phpCgiRunning(server);
  t.is((await httpGet(server.port, '/secret.txt')).status, 200);
  rewriteConf(server, site, DENY_TXT);
  process.kill(server.pid, 'SIGUSR1');
  // The primary and both workers say so.
  const reloaded = () => site.errors().match(/SIGUSR1: \S+ reloaded/g)?.length ?? 0;
  t.true(await eventually(() => reloaded() === 3, LONG), site.errors());
  // Fresh connections are handed to the workers in turn: each one answers with the new rule.
  const answers = await Promise.all(Array.from({ length: 8 }, () => httpGet(server.port, '/secret.txt')));
  t.deepEqual(
    answers.map((a) => a.status),
    Array(8).fill(403),
  );
  t.is((await httpGet(server.port, '/pid.php')).status, 200);
  t.deepEqual(phpCgiPids(server), phpBefore);
});
