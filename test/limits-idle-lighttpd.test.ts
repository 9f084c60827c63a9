/**
 * The idle limits and server.max-connections, under lighttpd 1.4.69 and the koa-lighty command
 * on the same config. lighttpd closes an idle connection without a word, whatever it was
 * waiting for: a head (server.max-read-idle), the rest of a body (the same, per request), the
 * next request (server.max-keep-alive-idle, per request), a client that stopped reading
 * (server.max-write-idle). These tests never time the server: they wait for what it does
 * (eventually), and where a longer limit must hold, they check it still holds at the moment a
 * shorter one, started at the same time or later, has acted.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { type CliPair, startCliPair } from './helpers/cli-pair.js';
import { RawConnection, serverEndState } from './helpers/raw-connection.js';
import { eventually } from './helpers/wait.js';

const root = mkdtempSync(join(tmpdir(), 'koa-lighty-idle-'));
writeFileSync(join(root, 'long.txt'), 'kept for long\n');
writeFileSync(join(root, 'short.txt'), 'kept briefly\n');
// Larger than what the kernel's buffers on both ends hold, so a client that reads nothing stalls it.
writeFileSync(join(root, 'large.bin'), Buffer.alloc(48 * 1024 * 1024, 'x'));
// Silent for longer than every idle limit of the config below, before and within its answer.
writeFileSync(
  join(root, 'think.php'),
  '<?php sleep(3); echo "thought\\n"; flush(); sleep(3); echo "done\\n";',
);
for (const name of ['upload.php', 'echo.php'])
  writeFileSync(join(root, name), '<?php echo "read=", strlen(file_get_contents("php://input")), "\\n";');

const php = (sockdir: string) => `fastcgi.server = ( ".php" => ((
  "bin-path" => "/usr/bin/php-cgi",
  "socket" => "${sockdir}/php.socket",
  "max-procs" => 1,
  "bin-environment" => ( "PHP_FCGI_CHILDREN" => "2" ),
)))`;

const idleConf = (sockdir: string) => `
server.document-root = "${root}"
server.modules = ( "mod_fastcgi" )
server.max-read-idle = 1
server.max-write-idle = 1
server.max-keep-alive-idle = 1
$HTTP["url"] =^ "/long" { server.max-keep-alive-idle = 30 }
$HTTP["url"] =^ "/upload" { server.max-read-idle = 30 }
${php(sockdir)}
`;

const connectionsConf = () => `
server.document-root = "${root}"
server.max-connections = 2
`;

let idle: CliPair | undefined;
let limited: CliPair | undefined;
test.before(async () => {
  [idle, limited] = await Promise.all([startCliPair(idleConf), startCliPair(connectionsConf)]);
});
test.after.always(async () => {
  await Promise.allSettled([idle?.close(), limited?.close()]);
  rmSync(root, { recursive: true, force: true });
});

async function open(t: { teardown(fn: () => void): void }, port: number) {
  const connection = await RawConnection.open(port);
  t.teardown(() => connection.destroy());
  return connection;
}

test('server.max-read-idle: a head that stops coming is closed without an answer', async (t) => {
  for (const [name, port] of idle!.servers) {
    const connection = await open(t, port);
    connection.write('GET /short.txt HTTP/1.1\r\nHo');
    t.true(await eventually(() => connection.closed, 20_000), `${name} kept the connection`);
    t.is(connection.bytes, 0, name);
  }
});

test('server.max-read-idle of a block: its body may pause for longer than the global limit', async (t) => {
  for (const [name, port] of idle!.servers) {
    const patient = await open(t, port);
    const other = await open(t, port);
    const pausedBody = (path: string) =>
      `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nthe first bytes`;
    patient.write(pausedBody('/upload.php'));
    other.write(pausedBody('/echo.php'));
    t.true(await eventually(() => other.closed, 20_000), `${name} kept the paused body of /echo.php`);
    t.is(other.bytes, 0, name);
    // Sent first, and still waited for: the block's 30 s apply to it.
    t.false(patient.closed, `${name} closed /upload.php's connection as soon as /echo.php's`);
  }
});

test('server.max-keep-alive-idle of a block: its connection is kept after the global one is closed', async (t) => {
  for (const [name, port] of idle!.servers) {
    const long = await open(t, port);
    long.get('/long.txt');
    t.true(await eventually(() => long.responses().length === 1, 10_000), name);
    const short = await open(t, port);
    short.get('/short.txt');
    t.true(await eventually(() => short.responses().length === 1, 10_000), name);
    t.is(short.responses()[0]!.status, 200, name);
    t.true(await eventually(() => short.closed, 20_000), `${name} kept an idle connection past 1 s`);
    t.false(long.closed, `${name} closed the connection of /long.txt as soon as the other`);
    // It is still usable.
    long.get('/long.txt');
    t.true(await eventually(() => long.responses().length === 2, 10_000), name);
  }
});

test('server.max-write-idle: a client that stops reading is given up on', async (t) => {
  for (const [name, port] of idle!.servers) {
    const stalled = await open(t, port);
    stalled.socket.pause();
    stalled.get('/large.bin');
    const gaveUp = await eventually(() => serverEndState(port, stalled.localPort) !== 'ESTABLISHED', 30_000);
    t.true(gaveUp, `${name} still writes to a client that reads nothing`);
    // What was in flight arrives, then the end: less than the file.
    stalled.socket.resume();
    t.true(await eventually(() => stalled.closed, 20_000), name);
    t.true(stalled.bytes < 48 * 1024 * 1024, `${name}: ${stalled.bytes} bytes`);
  }
});

test('a script that thinks for longer than max-read-idle and max-write-idle is not cut', async (t) => {
  const answers = await Promise.all(
    idle!.servers.map(async ([name, port]) => {
      const c = await open(t, port);
      c.get('/think.php', ['Connection: close']);
      t.true(await eventually(() => c.closed, 30_000), name);
      return c.responses()[0];
    }),
  );
  for (const answer of answers) {
    t.is(answer?.status, 200);
    t.is(answer?.body.toString(), 'thought\ndone\n');
  }
});

test('an answer sent before its request body was read (a POST to a file) closes the connection', async (t) => {
  for (const [name, port] of idle!.servers) {
    for (const body of ['the first bytes of a hundred', 'all of it']) {
      const c = await open(t, port);
      const length = body.startsWith('all') ? body.length : 100;
      c.write(`POST /short.txt HTTP/1.1\r\nHost: x\r\nContent-Length: ${length}\r\n\r\n${body}`);
      t.true(await eventually(() => c.responses().length === 1, 10_000), name);
      t.is(c.responses()[0]!.headers['connection'], 'close', `${name}: ${body}`);
      t.true(await eventually(() => c.closed, 10_000), name);
    }
  }
});

test('server.max-connections = 2: a third client waits, unanswered, until one of the two leaves', async (t) => {
  for (const [name, port] of limited!.servers) {
    const first = await open(t, port);
    const second = await open(t, port);
    const third = await open(t, port);
    third.get('/short.txt');
    // The server is busy with nobody: the first client's request is answered at once. A third
    // connection the server had taken would have had its answer by then, asked for earlier.
    first.get('/short.txt');
    t.true(await eventually(() => first.responses().length === 1, 10_000), name);
    t.is(third.bytes, 0, `${name} answered a third connection`);
    first.destroy();
    t.true(await eventually(() => third.responses().length === 1, 10_000), `${name} never took the third`);
    t.is(third.responses()[0]!.status, 200, name);
    second.destroy();
  }
});
