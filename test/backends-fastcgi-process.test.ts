import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { createBackend } from '../src/backends/backend.js';
import { FastCgiProcess, splitBinPath } from '../src/backends/fastcgi-process.js';
import { getValues } from '../src/fastcgi/connection.js';
import { BackendPool } from '../src/fastcgi/pool.js';
import { canConnect, phpParams, startPhpCgi } from './helpers/php-cgi.js';
import { freePort, freePortRange } from './helpers/ports.js';
import { eventually } from './helpers/wait.js';

async function readAll(body: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Processes in php-cgi's group (master and workers); it leads the group it was spawned in. */
function groupMembers(pgid: number): number[] {
  const out = execFileSync('ps', ['-e', '-o', 'pid=,pgid=,stat='], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter(([, g, stat]) => Number(g) === pgid && !stat?.startsWith('Z'))
    .map(([p]) => Number(p));
}

function tempDir(t: import('ava').ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'koa-lighty-backend-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('spawns php-cgi with arguments and environment, serves, and stops with its workers', async (t) => {
  const port = await freePort();
  const lines: string[] = [];
  const proc = new FastCgiProcess({
    binPath: 'php-cgi -d\tdisplay_errors=0',
    address: { host: '127.0.0.1', port },
    children: 2,
    binEnvironment: { KL_TEST_ADDED: 'added' },
    log: (line) => lines.push(line),
  });
  t.teardown(() => proc.stop());
  await proc.start();
  const pid = proc.pid!;
  t.true(alive(pid));
  await eventually(() => groupMembers(pid).length === 3);
  t.is(groupMembers(pid).length, 3, 'master and two workers');
  // Its socket queues our connect while php-cgi starts; a generous timeout for a loaded machine.
  t.is((await getValues(proc.address, ['FCGI_MAX_CONNS'], 10_000)).get('FCGI_MAX_CONNS'), '2');

  const pool = new BackendPool({ address: proc.address });
  const res = await pool.request({ params: phpParams('fcgi-env.php') });
  const env = JSON.parse(await readAll(res.body));
  t.is(env.added, 'added');
  t.is(env.children, '2');
  await pool.close();

  await proc.stop();
  t.false(alive(pid));
  t.deepEqual(groupMembers(pid), []);
  t.false(await canConnect(proc.address));
});

test('bin-copy-environment copies only the names listed; PHP_FCGI_CHILDREN defaults to 1', async (t) => {
  process.env.KL_TEST_COPY = 'copied';
  process.env.KL_TEST_NOCOPY = 'not copied';
  const dir = tempDir(t);
  const proc = new FastCgiProcess({
    binPath: 'php-cgi',
    address: { socket: join(dir, 'php.sock') },
    binCopyEnvironment: ['KL_TEST_COPY', 'PATH'],
    binEnvironment: { KL_TEST_ADDED: 'yes' },
  });
  t.teardown(() => proc.stop());
  await proc.start();
  t.is(proc.children, 1);
  const pool = new BackendPool({ address: proc.address });
  const res = await pool.request({ params: phpParams('fcgi-env.php') });
  const env = JSON.parse(await readAll(res.body));
  await pool.close();
  t.deepEqual([env.copied, env.notCopied, env.added, env.children], ['copied', false, 'yes', '1']);
});

test('a unix socket file is there while it runs and removed on stop', async (t) => {
  const dir = tempDir(t);
  const socket = join(dir, 'php.sock');
  const proc = new FastCgiProcess({ binPath: 'php-cgi', address: { socket } });
  t.teardown(() => proc.stop());
  await proc.start();
  t.true(existsSync(socket));
  await proc.stop();
  t.false(existsSync(socket));
});

test('killed during a request: that request fails, later ones succeed after the respawn', async (t) => {
  const dir = tempDir(t);
  const backend = createBackend({
    binPath: 'php-cgi',
    socket: join(dir, 'php.sock'),
    maxProcs: 1,
  });
  t.teardown(() => backend.stop());
  await backend.start();
  const proc = (backend as unknown as { processes: FastCgiProcess[] }).processes[0]!;
  const [pool] = backend.pools;
  const firstPid = proc.pid!;

  const res = await pool!.request({
    params: phpParams('fcgi-sleep.php', { QUERY_STRING: 'ms=5000&early=1' }),
  });
  const ready = new Promise<number>((resolve) => proc.once('ready', resolve));
  process.kill(-firstPid, 'SIGKILL');
  const error = await t.throwsAsync(readAll(res.body));
  t.is(error.name, 'ClosedMidResponse');
  const newPid = await ready;
  t.not(newPid, firstPid);
  for (let i = 0; i < 5; i++) {
    const next = await pool!.request({ params: phpParams('fcgi-sleep.php', { QUERY_STRING: 'ms=1' }) });
    t.regex(await readAll(next.body), /^slept \d+/);
  }
});

test('respawns back off: a process that keeps dying is not restarted in a tight loop', async (t) => {
  const port = await freePort();
  const exits: number[] = [];
  const proc = new FastCgiProcess({
    binPath: 'php-cgi',
    address: { host: '127.0.0.1', port },
    respawnDelay: { initial: 100, max: 400 },
  });
  t.teardown(() => proc.stop());
  proc.on('exit', () => exits.push(Date.now()));
  await proc.start();
  for (let i = 0; i < 4; i++) {
    const ready = new Promise((resolve) => proc.once('ready', resolve));
    process.kill(-proc.pid!, 'SIGKILL');
    await ready;
  }
  const gaps = exits.slice(1).map((at, i) => at - exits[i]!);
  // 100, 200, 400 ms of back-off (plus start-up time) between the deaths.
  t.true(gaps[0]! >= 100, `gaps ${gaps}`);
  t.true(gaps[1]! >= 200, `gaps ${gaps}`);
  t.true(gaps[2]! >= 400, `gaps ${gaps}`);
});

test('max-procs spawns one process per port (port+n) and per socket (socket-n)', async (t) => {
  const port = await freePortRange(2);
  const dir = tempDir(t);
  const tcp = createBackend({ binPath: 'php-cgi', host: '127.0.0.1', port, maxProcs: 2 });
  const unix = createBackend({ binPath: 'php-cgi', socket: join(dir, 'php.sock'), maxProcs: 2 });
  t.teardown(async () => {
    await tcp.stop();
    await unix.stop();
  });
  await Promise.all([tcp.start(), unix.start()]);
  t.deepEqual(
    tcp.pools.map((p) => p.address),
    [
      { host: '127.0.0.1', port },
      { host: '127.0.0.1', port: port + 1 },
    ],
  );
  t.deepEqual(
    unix.pools.map((p) => p.address),
    [{ socket: join(dir, 'php.sock-0') }, { socket: join(dir, 'php.sock-1') }],
  );
  for (const pool of [...tcp.pools, ...unix.pools]) {
    const res = await pool.request({ params: phpParams('fcgi-sleep.php', { QUERY_STRING: 'ms=1' }) });
    t.regex(await readAll(res.body), /^slept/);
  }
});

test('an address that already accepts connections is used, not spawned over', async (t) => {
  const running = await startPhpCgi();
  t.teardown(() => running.stop());
  const proc = new FastCgiProcess({ binPath: 'php-cgi', address: running.address });
  await proc.start();
  t.is(proc.pid, undefined);
  await proc.stop();
  t.true(alive(running.pid), 'someone else’s php-cgi is left alone');
});

test('a bin-path that cannot run is logged and tried again; start() still resolves', async (t) => {
  const lines: string[] = [];
  const proc = new FastCgiProcess({
    binPath: '/nonexistent/php-cgi',
    address: { host: '127.0.0.1', port: await freePort() },
    respawnDelay: { initial: 50, max: 50 },
    log: (line) => lines.push(line),
  });
  t.teardown(() => proc.stop());
  await proc.start();
  t.true(lines[0]?.startsWith('invalid "bin-path" => "/nonexistent/php-cgi"'), lines.join('\n'));
  // The first attempt and the next one, each named in the log.
  await eventually(() => lines.filter((l) => l.includes('starting it again')).length >= 2);
  t.true(
    lines
      .filter((l) => l.includes('starting it again'))
      .every((l) => l.startsWith('/nonexistent/php-cgi on ')),
    lines.join('\n'),
  );
  t.false(proc.running);
});

const NODE_RESPONDER = fileURLToPath(new URL('../fixtures/fastcgi/node-responder.mjs', import.meta.url));

for (const transport of ['unix socket', 'TCP'] as const) {
  test(`a FastCGI program that is not PHP (node-fastcgi) serves on the socket it gets as fd 0: ${transport}`, async (t) => {
    const address =
      transport === 'TCP'
        ? { host: '127.0.0.1', port: await freePort() }
        : { socket: join(tempDir(t), 'app.sock') };
    const lines: string[] = [];
    const proc = new FastCgiProcess({
      binPath: `${NODE_RESPONDER} --one  two`,
      address,
      binEnvironment: { KL_ADDED: 'added' },
      // PATH for its `#!/usr/bin/env node`; other tests of this file set KL_ variables of ours.
      binCopyEnvironment: ['PATH'],
      log: (line) => lines.push(line),
    });
    t.teardown(() => proc.stop());
    await proc.start();
    const pool = new BackendPool({ address, keepConn: false });
    t.teardown(() => pool.close());
    const res = await pool.request({
      params: [
        ['REQUEST_METHOD', 'GET'],
        ['REQUEST_URI', '/app/x'],
        ['SCRIPT_NAME', '/app'],
      ],
    });
    t.is(res.status, 200, lines.join('\n'));
    t.deepEqual(JSON.parse(await readAll(res.body)), {
      program: 'node-responder',
      // lighttpd's split: two spaces make an empty argument; no address argument is added.
      argv: ['--one', '', 'two'],
      // lighttpd starts the program in its own directory.
      cwd: dirname(NODE_RESPONDER),
      env: { KL_ADDED: 'added', PHP_FCGI_CHILDREN: '1' },
      request: { method: 'GET', uri: '/app/x', script: '/app' },
    });
    const pid = res.headers.find(([name]) => name.toLowerCase() === 'x-responder-pid')?.[1];
    t.is(pid, String(proc.pid), 'the program we spawned answered');
  });
}

test('bin-path splits like lighttpd: at every space or tab, no quoting', (t) => {
  t.deepEqual(splitBinPath('/usr/bin/php-cgi -c /etc/php.ini'), ['/usr/bin/php-cgi', '-c', '/etc/php.ini']);
  t.deepEqual(splitBinPath('/a\tb  "c d"'), ['/a', 'b', '', '"c', 'd"']);
});

const here = fileURLToPath(new URL('.', import.meta.url));

/** Runs a node process that starts php-cgi, prints its pid, then ends the way `ending` says. */
async function phpPidOfDeadParent(
  t: import('ava').ExecutionContext,
  ending: 'exit' | 'sigkill',
): Promise<number> {
  const port = await freePort();
  const src = join(here, '../src/backends/fastcgi-process.ts');
  const code = `
    const { FastCgiProcess } = await import(${JSON.stringify(src)});
    const proc = new FastCgiProcess({ binPath: 'php-cgi', address: { host: '127.0.0.1', port: ${port} }, children: 2 });
    await proc.start();
    console.log(proc.pid);
    ${ending === 'exit' ? 'process.exit(0);' : 'setInterval(() => {}, 1000);'}
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', code], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // Listened for from the start: a child that exits right after printing its pid may be gone
  // before a listener added later would hear of it.
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const pid = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (b: Buffer) => resolve(Number(b.toString().trim())));
    // 'close', not 'exit': 'exit' can come before the pid it printed has been read.
    child.once('close', () => reject(new Error('child exited before printing a pid')));
  });
  t.teardown(() => {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {}
  });
  t.true(alive(pid));
  if (ending === 'sigkill') child.kill('SIGKILL');
  await exited;
  return pid;
}

test('no php-cgi is orphaned when node exits normally', async (t) => {
  const pid = await phpPidOfDeadParent(t, 'exit');
  // php-cgi's master stops its workers when told (TERM), which takes a while on a loaded machine.
  await eventually(() => groupMembers(pid).length === 0, 30_000);
  t.deepEqual(groupMembers(pid), []);
});

test('no php-cgi is orphaned when node is killed with SIGKILL (parent-death signal)', async (t) => {
  const pid = await phpPidOfDeadParent(t, 'sigkill');
  // php-cgi's master stops its workers when told (TERM), which takes a while on a loaded machine.
  await eventually(() => groupMembers(pid).length === 0, 30_000);
  t.deepEqual(groupMembers(pid), []);
});
