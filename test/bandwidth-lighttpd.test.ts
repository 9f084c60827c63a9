/**
 * connection.kbytes-per-second, server.kbytes-per-second and PHP's
 * X-LIGHTTPD-KBytes-per-second under lighttpd 1.4.69 and the koa-lighty command on the same
 * config. A limit can only be seen in time, so these tests bound the one side a loaded machine
 * cannot falsify: a server is never faster than its limit. A witness timer starts at the first
 * byte; when it fires (however late), the answer must still be incomplete, and the bytes
 * received must fit in the seconds that really went by (plus one second's budget of slack).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import { type CliPair, startCliPair } from './helpers/cli-pair.js';
import { RawConnection } from './helpers/raw-connection.js';
import { eventually } from './helpers/wait.js';

const SIZE = 64 * 1024;
const root = mkdtempSync(join(tmpdir(), 'koa-lighty-bandwidth-'));
for (const dir of ['slow', 'shared', 'free']) {
  mkdirSync(join(root, dir));
  writeFileSync(join(root, dir, 'a.txt'), 'a'.repeat(SIZE));
  writeFileSync(join(root, dir, 'b.txt'), 'b'.repeat(SIZE));
}
writeFileSync(
  join(root, 'rate.php'),
  `<?php header('X-LIGHTTPD-KBytes-per-second: 2'); echo str_repeat('r', 300000);`,
);

const conf = (sockdir: string) => `
server.document-root = "${root}"
server.modules = ( "mod_fastcgi" )
mimetype.assign = ( ".txt" => "text/plain" )
fastcgi.server = ( ".php" => ((
  "bin-path" => "/usr/bin/php-cgi",
  "socket" => "${sockdir}/php.socket",
  "max-procs" => 1,
)))
$HTTP["url"] =^ "/slow/" { connection.kbytes-per-second = 1 }
$HTTP["url"] =^ "/shared/" { server.kbytes-per-second = 2 }
`;

let pair: CliPair | undefined;
test.before(async () => {
  pair = await startCliPair(conf);
});
test.after.always(async () => {
  await pair?.close();
  rmSync(root, { recursive: true, force: true });
});

/** Opens connections, asks each for its path, and waits for the first byte of them all. */
/**
 * Opens one connection per path and asks for it; resolves once every connection has its first
 * byte, or with `any`, once one has (a shared budget may serve one connection before another).
 */
async function download(
  t: { teardown(fn: () => void): void },
  port: number,
  paths: string[],
  { any = false }: { any?: boolean } = {},
) {
  const connections = await Promise.all(paths.map(() => RawConnection.open(port)));
  t.teardown(() => {
    for (const c of connections) c.destroy();
  });
  for (const [i, c] of connections.entries()) c.get(paths[i]!, ['Connection: close']);
  const started = (c: RawConnection) => c.firstByteAt !== undefined;
  await eventually(() => (any ? connections.some(started) : connections.every(started)), 30_000);
  return connections;
}

/** Waits `ms` from `from` (a witness: what it measures is what happened meanwhile), then the seconds gone by. */
async function witness(from: number, ms: number): Promise<number> {
  await sleep(Math.max(0, from + ms - performance.now()));
  return (performance.now() - from) / 1000;
}

test('connection.kbytes-per-second = 1: 64 KiB are not there two seconds after the first byte', async (t) => {
  for (const [name, port] of pair!.servers) {
    const [c] = await download(t, port, ['/slow/a.txt']);
    const seconds = await witness(c!.firstByteAt!, 2000);
    t.false(c!.closed, `${name} sent it all`);
    // Head included: lighttpd counts it too, koa-lighty does not.
    t.true(c!.bytes <= 1024 * (Math.ceil(seconds) + 1) + 512, `${name}: ${c!.bytes} bytes in ${seconds} s`);
  }
});

test('server.kbytes-per-second = 2: one budget for every connection of its block', async (t) => {
  for (const [name, port] of pair!.servers) {
    const connections = await download(t, port, ['/shared/a.txt', '/shared/b.txt'], { any: true });
    const first = Math.min(
      ...connections.flatMap((c) => (c.firstByteAt === undefined ? [] : [c.firstByteAt])),
    );
    const seconds = await witness(first, 3000);
    const total = connections.reduce((sum, c) => sum + c.bytes, 0);
    t.true(
      connections.every((c) => !c.closed),
      `${name} sent one whole`,
    );
    // Two connections at 2 KiB/s each would be twice this.
    t.true(total <= 2048 * (Math.ceil(seconds) + 1) + 1024, `${name}: ${total} bytes in ${seconds} s`);
  }
});

test("PHP's X-LIGHTTPD-KBytes-per-second: 2 limits its answer, and the header does not reach the client", async (t) => {
  for (const [name, port] of pair!.servers) {
    const [c] = await download(t, port, ['/rate.php']);
    const seconds = await witness(c!.firstByteAt!, 2000);
    t.false(c!.closed, `${name} sent it all`);
    t.true(c!.bytes <= 2048 * (Math.ceil(seconds) + 1) + 512, `${name}: ${c!.bytes} bytes in ${seconds} s`);
    const head = c!.received.toString('latin1');
    t.true(head.startsWith('HTTP/1.1 200 '), name);
    t.false(/x-lighttpd/i.test(head.slice(0, head.indexOf('\r\n\r\n'))), name);
  }
});

test('without a limit, the same file comes whole at once', async (t) => {
  for (const [name, port] of pair!.servers) {
    const [c] = await download(t, port, ['/free/a.txt']);
    t.true(await eventually(() => c!.closed, 10_000), name);
    t.is(c!.responses()[0]!.body.length, SIZE, name);
  }
});
