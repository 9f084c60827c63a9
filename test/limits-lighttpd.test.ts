/**
 * server.max-request-size, server.range-requests and server.max-keep-alive-requests under
 * lighttpd 1.4.69 and the koa-lighty command on the same config (php-cgi spawned by bin-path
 * on both sides): each limit crossed, and the same status from both. lighttpd's own request.t
 * test 6 (a POST announcing 2 GiB) is here as it is there.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { type CliPair, startCliPair } from './helpers/cli-pair.js';
import { rawExchange, rawRequest } from './helpers/http.js';
import { comparable } from './helpers/lighttpd.js';
import { RawConnection } from './helpers/raw-connection.js';
import { eventually } from './helpers/wait.js';

const root = mkdtempSync(join(tmpdir(), 'koa-lighty-limits-'));
writeFileSync(join(root, '12345.txt'), '12345\n');
writeFileSync(join(root, 'doc.pdf'), '%PDF-1.4 not really a pdf\n');
writeFileSync(join(root, 'doc.txt'), 'a text file of some length\n');
writeFileSync(join(root, 'echo.php'), '<?php echo "read=", strlen(file_get_contents("php://input")), "\\n";');
writeFileSync(join(root, 'big.php'), '<?php echo "read=", strlen(file_get_contents("php://input")), "\\n";');
writeFileSync(join(root, 'norange.php'), '<?php echo "0123456789";');

const conf = (sockdir: string) => `
server.document-root = "${root}"
server.modules = ( "mod_fastcgi" )
server.max-request-size = 1
server.max-keep-alive-requests = 2
mimetype.assign = ( ".pdf" => "application/pdf", ".txt" => "text/plain" )
fastcgi.server = ( ".php" => ((
  "bin-path" => "/usr/bin/php-cgi",
  "socket" => "${sockdir}/php.socket",
  "max-procs" => 1,
)))
$HTTP["url"] =~ "^/big" { server.max-request-size = 4 }
$HTTP["url"] =~ "\\.pdf$" { server.range-requests = "disable" }
$HTTP["url"] == "/norange.php" { server.range-requests = "disable" }
$HTTP["useragent"] =~ "MSIE" { server.max-keep-alive-requests = 0 }
`;

let pair: CliPair | undefined;
test.before(async () => {
  pair = await startCliPair(conf);
});
test.after.always(async () => {
  await pair?.close();
  rmSync(root, { recursive: true, force: true });
});

/** The same bytes to both servers; each answer read until the server closes. */
async function both(request: string) {
  const [lighttpd, koa] = await Promise.all(
    pair!.servers.map(([, port]) => rawExchange(port, Buffer.from(request, 'latin1'))),
  );
  return { lighttpd: lighttpd!, koa: koa! };
}

const view = (r: Awaited<ReturnType<typeof rawExchange>>) => ({
  statusLine: r.statusLine,
  connection: r.headers['connection'],
  ...comparable(r),
});

test('Content-Length over max-request-size (request.t test 6): 413 before the body, in HTTP/1.0, connection closed', async (t) => {
  const { lighttpd, koa } = await both(
    'POST /12345.txt HTTP/1.0\r\nHost: 123.example.org\r\nContent-Length: 2147483648\r\n\r\n',
  );
  t.is(lighttpd.statusLine, 'HTTP/1.0 413 Payload Too Large');
  t.deepEqual(view(koa), view(lighttpd));
});

test('PHP gets a body of exactly the limit; one byte more is 413 and PHP never runs', async (t) => {
  const at = await both(
    `POST /echo.php HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 1024\r\n\r\n${'a'.repeat(1024)}`,
  );
  t.is(at.lighttpd.body.toString(), 'read=1024\n');
  t.deepEqual(view(at.koa), view(at.lighttpd));
  // One byte over, and not a byte of the body sent: the answer cannot have waited for it.
  const over = await both('POST /echo.php HTTP/1.1\r\nHost: x\r\nContent-Length: 1025\r\n\r\n');
  t.is(over.lighttpd.status, 413);
  t.deepEqual(view(over.koa), view(over.lighttpd));
});

test('a chunked body is refused as soon as it passes the limit, without waiting for its end', async (t) => {
  const chunk = 'b'.repeat(1500);
  const { lighttpd, koa } = await both(
    `POST /echo.php HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${chunk.length.toString(16)}\r\n${chunk}\r\n`,
  );
  t.is(lighttpd.status, 413);
  t.deepEqual(view(koa), view(lighttpd));
  // Under the limit, it gets through.
  const small = await both(
    'POST /echo.php HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n' +
      `${'c'.repeat(1000)}\r\n0\r\n\r\n`,
  );
  t.is(small.lighttpd.body.toString(), 'read=1000\n');
  t.deepEqual(view(small.koa), view(small.lighttpd));
});

test('a client that sends its whole too-large body before reading still gets the 413, without a reset', async (t) => {
  const body = Buffer.alloc(20 * 1024 * 1024, 'e');
  for (const [name, port] of pair!.servers) {
    const c = await RawConnection.open(port);
    t.teardown(() => c.destroy());
    let failed: NodeJS.ErrnoException | undefined;
    c.socket.on('error', (error) => {
      failed = error;
    });
    c.write(`POST /echo.php HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`);
    // The server shuts its side after the 413 and reads on; a client that only writes sees no error.
    await new Promise<void>((resolve) => c.socket.write(body, () => resolve()));
    t.true(await eventually(() => c.closed, 20_000), name);
    t.is(failed, undefined, `${name}: ${failed?.code}`);
    t.is(c.responses()[0]?.status, 413, name);
  }
});

test("a block's own limit: 4 KiB for ^/big", async (t) => {
  const { lighttpd, koa } = await both(
    `POST /big.php HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 3000\r\n\r\n${'d'.repeat(3000)}`,
  );
  t.is(lighttpd.body.toString(), 'read=3000\n');
  t.deepEqual(view(koa), view(lighttpd));
});

test('Expect: 100-continue with a body over the limit: 413 and no 100 Continue before it', async (t) => {
  const { lighttpd, koa } = await both(
    'POST /echo.php HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n',
  );
  t.is(lighttpd.statusLine, 'HTTP/1.1 413 Payload Too Large');
  t.deepEqual(view(koa), view(lighttpd));
});

test('server.range-requests = "disable" in $HTTP["url"] =~ "\\.pdf$": the whole file, no Accept-Ranges; elsewhere 206', async (t) => {
  for (const path of ['/doc.pdf', '/doc.txt', '/norange.php']) {
    const [lighttpd, koa] = await Promise.all(
      pair!.servers.map(([, port]) => rawRequest(port, path, { Range: 'bytes=0-2' })),
    );
    t.deepEqual(comparable(koa!), comparable(lighttpd!), path);
    t.is(lighttpd!.status, path === '/doc.txt' ? 206 : 200, path);
    t.is(koa!.headers['accept-ranges'] ?? 'none sent', path === '/doc.txt' ? 'bytes' : 'none sent', path);
  }
});

/** Requests sent one after the other on one connection; what each answer said about the connection. */
async function keepAlive(port: number, requests: number, headers: string[] = []) {
  const connection = await RawConnection.open(port);
  try {
    const answers: Array<string | undefined> = [];
    for (let i = 0; i < requests && !connection.closed; i++) {
      connection.get('/12345.txt', headers);
      const complete = await eventually(() => connection.responses().length > i || connection.closed, 10_000);
      const answer = complete ? connection.responses()[i] : undefined;
      if (!answer) break;
      answers.push(answer.headers['connection'] === 'close' ? 'close' : 'kept');
    }
    const closedByServer = await eventually(() => connection.closed, 10_000);
    return { answers, closedByServer };
  } finally {
    connection.destroy();
  }
}

test('server.max-keep-alive-requests = 2: the third answer on a connection closes it', async (t) => {
  for (const [name, port] of pair!.servers) {
    t.deepEqual(await keepAlive(port, 4), { answers: ['kept', 'kept', 'close'], closedByServer: true }, name);
  }
});

test('$HTTP["useragent"] =~ "MSIE" { server.max-keep-alive-requests = 0 }: every answer to it closes', async (t) => {
  for (const [name, port] of pair!.servers) {
    const seen = await keepAlive(port, 2, ['User-Agent: Mozilla/4.0 (compatible; MSIE 6.0)']);
    t.deepEqual(seen, { answers: ['close'], closedByServer: true }, name);
  }
});
