/**
 * HTTP/2 in clear text (h2c, prior knowledge) under Debian's lighttpd 1.4.69 and under
 * `koa-lighty -f` on the same lighttpd.conf: the same status, headers and body for static
 * files, ranges, HEAD, 304, 404 and PHP (and what PHP sees of the protocol), several streams
 * at once on one session; server.feature-flags as lighttpd reads them; and the deliberate
 * differences (Upgrade: h2c, a PHP Keep-Alive header) asserted as such.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type ClientHttp2Session, connect, type IncomingHttpHeaders } from 'node:http2';
import { connect as connectTcp } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { type RunningKoaLighty, startKoaLighty } from './helpers/koa-lighty.js';
import { COMPARED_HEADERS, type RunningLighttpd, startLighttpd } from './helpers/lighttpd.js';

const root = mkdtempSync(join(tmpdir(), 'koa-lighty-h2l-'));
const www = join(root, 'www');
mkdirSync(www, { recursive: true });
writeFileSync(join(www, 'a.txt'), 'hello over h2\n');
writeFileSync(join(www, 'range.txt'), '0123456789abcdefghij');
writeFileSync(join(www, 'index.html'), '<p>index</p>\n');
writeFileSync(
  join(www, 'env.php'),
  `<?php
header('Content-Type: application/json');
header('X-LIGHTTPD-Custom: for the server only');
echo json_encode([
  'protocol' => $_SERVER['SERVER_PROTOCOL'],
  'https' => $_SERVER['HTTPS'] ?? null,
  'scheme' => $_SERVER['REQUEST_SCHEME'],
  'host' => isset($_SERVER['HTTP_HOST']),
  'method' => $_SERVER['REQUEST_METHOD'],
]);
`,
);
writeFileSync(join(www, 'keepalive.php'), "<?php header('Keep-Alive: timeout=9'); echo 'body';");

function conf(sockdir: string, extra = ''): string {
  mkdirSync(sockdir, { recursive: true });
  return `server.document-root = "${www}"
server.modules = ( "mod_fastcgi" )
index-file.names = ( "index.html" )
mimetype.assign = ( ".html" => "text/html", ".txt" => "text/plain" )
fastcgi.server = ( ".php" => (( "bin-path" => "/usr/bin/php-cgi", "socket" => "${sockdir}/php.socket", "max-procs" => 1 )))
${extra}
`;
}

interface Pair {
  lighttpd: RunningLighttpd;
  koa: RunningKoaLighty;
  stop(): Promise<void>;
}

async function startPair(name: string, extra = ''): Promise<Pair> {
  const [lighttpd, koa] = await Promise.all([
    startLighttpd(conf(join(root, `${name}-l`), extra)),
    startKoaLighty({
      conf: `${conf(join(root, `${name}-k`), extra)}server.port = PORT\nserver.bind = "127.0.0.1"\n`,
    }),
  ]);
  return { lighttpd, koa, stop: async () => void (await Promise.allSettled([lighttpd.stop(), koa.stop()])) };
}

let pair: Pair | undefined;

test.before(async () => {
  pair = await startPair('default');
});

test.after.always(async () => {
  await pair?.stop();
  rmSync(root, { recursive: true, force: true });
});

interface H2Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

function request(session: ClientHttp2Session, headers: Record<string, string>): Promise<H2Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers);
    let head: IncomingHttpHeaders = {};
    let body = '';
    stream.setEncoding('latin1');
    stream.on('response', (h) => (head = h));
    stream.on('data', (chunk: string) => (body += chunk));
    stream.on('end', () => resolve({ status: Number(head[':status']), headers: head, body }));
    stream.on('error', reject);
  });
}

/** Every request at once on one prior-knowledge session; the answers in the same order. */
async function allOnOneSession(port: number, requests: Array<Record<string, string>>): Promise<H2Answer[]> {
  const session = connect(`http://127.0.0.1:${port}`);
  try {
    return await Promise.all(requests.map((headers) => request(session, headers)));
  } finally {
    session.close();
  }
}

function compared(answer: H2Answer) {
  const headers: Record<string, string | undefined> = {};
  for (const name of [...COMPARED_HEADERS, 'content-encoding', 'connection', 'x-lighttpd-custom'])
    headers[name] = answer.headers[name] === undefined ? undefined : String(answer.headers[name]);
  return { status: answer.status, headers, body: answer.body };
}

test('the same answers over h2c as lighttpd 1.4.69: static, range, HEAD, 304, 404, directory, PHP', async (t) => {
  const { lighttpd, koa } = pair!;
  const [etagOf] = await allOnOneSession(lighttpd.port, [{ ':path': '/range.txt' }]);
  const requests: Array<Record<string, string>> = [
    { ':path': '/a.txt' },
    { ':path': '/range.txt', range: 'bytes=2-5' },
    { ':path': '/range.txt', range: 'bytes=0-1,5-6' },
    { ':path': '/range.txt', range: 'bytes=50-' },
    { ':path': '/range.txt', ':method': 'HEAD' },
    { ':path': '/range.txt', 'if-none-match': String(etagOf!.headers.etag) },
    { ':path': '/missing.txt' },
    { ':path': '/' },
    { ':path': '/env.php' },
    { ':path': '/env.php', ':method': 'HEAD' },
    { ':path': '/env.php?x=1', range: 'bytes=0-4' },
  ];
  const [fromLighttpd, fromKoa] = await Promise.all([
    allOnOneSession(lighttpd.port, requests),
    allOnOneSession(koa.port, requests),
  ]);
  for (const [i, r] of requests.entries()) {
    const ours = compared(fromKoa[i]!);
    const theirs = compared(fromLighttpd[i]!);
    // A multipart body's boundary is each server's own.
    if (/multipart/.test(theirs.headers['content-type'] ?? '')) {
      t.is(ours.status, theirs.status);
      t.regex(String(ours.headers['content-type']), /^multipart\/byteranges; boundary=/);
      continue;
    }
    t.deepEqual(ours, theirs, JSON.stringify(r));
  }
  // What PHP saw: HTTP/2.0, no HTTPS, a Host made from :authority.
  t.deepEqual(JSON.parse(fromKoa[8]!.body), {
    protocol: 'HTTP/2.0',
    https: null,
    scheme: 'http',
    host: true,
    method: 'GET',
  });
});

test('server.feature-flags "server.h2c" => "disable" leaves prior knowledge on, in both', async (t) => {
  const off = await startPair('h2c-off', 'server.feature-flags = ( "server.h2c" => "disable" )');
  try {
    for (const port of [off.lighttpd.port, off.koa.port]) {
      const [answer] = await allOnOneSession(port, [{ ':path': '/a.txt' }]);
      t.is(answer!.status, 200);
      t.is(answer!.body, 'hello over h2\n');
    }
  } finally {
    await off.stop();
  }
});

/** The raw bytes a server answers to the HTTP/2 preface, up to the end of the head. */
function answerToPreface(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connectTcp(port, '127.0.0.1', () => socket.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'));
    let seen = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (seen += chunk));
    socket.on('end', () => resolve(seen));
    socket.on('close', () => resolve(seen));
    socket.on('error', reject);
  });
}

test('server.feature-flags "server.h2proto" => "disable": the preface gets 505 in HTTP/1.0, as from lighttpd', async (t) => {
  const off = await startPair('h2-off', 'server.feature-flags = ( "server.h2proto" => "disable" )');
  try {
    const [theirs, ours] = await Promise.all([
      answerToPreface(off.lighttpd.port),
      answerToPreface(off.koa.port),
    ]);
    t.regex(theirs, /^HTTP\/1\.0 505 HTTP Version Not Supported\r\n/);
    t.regex(ours, /^HTTP\/1\.0 505 HTTP Version Not Supported\r\n/);
    t.is(ours.split('\r\n\r\n')[1], theirs.split('\r\n\r\n')[1]);
  } finally {
    await off.stop();
  }
});

/** An HTTP/1.1 request asking to upgrade to h2c; the status line of the answer. */
function upgradeStatusLine(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connectTcp(port, '127.0.0.1', () =>
      socket.write(
        'GET /a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade, HTTP2-Settings\r\n' +
          'Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n',
      ),
    );
    let seen = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      seen += chunk;
      if (seen.includes('\r\n')) {
        socket.destroy();
        resolve(seen.slice(0, seen.indexOf('\r\n')));
      }
    });
    socket.on('error', reject);
  });
}

test('deliberate difference: Upgrade: h2c switches with lighttpd, and is answered over HTTP/1.1 by koa-lighty', async (t) => {
  const { lighttpd, koa } = pair!;
  t.is(await upgradeStatusLine(lighttpd.port), 'HTTP/1.1 101 Switching Protocols');
  t.is(await upgradeStatusLine(koa.port), 'HTTP/1.1 200 OK');
});

test('deliberate difference: a Keep-Alive header from PHP breaks lighttpd’s h2 answer; koa-lighty drops it', async (t) => {
  const { lighttpd, koa } = pair!;
  await t.throwsAsync(allOnOneSession(lighttpd.port, [{ ':path': '/keepalive.php' }]), {
    code: 'ERR_HTTP2_STREAM_ERROR',
  });
  const [ours] = await allOnOneSession(koa.port, [{ ':path': '/keepalive.php' }]);
  t.is(ours!.status, 200);
  t.is(ours!.body, 'body');
  t.is(ours!.headers['keep-alive'], undefined);
});

test('--workers 2: each worker dispatches its own connections, h2c and HTTP/1.1 alike', async (t) => {
  const koa = await startKoaLighty({
    conf: `${conf(join(root, 'workers-k'))}server.port = PORT\nserver.bind = "127.0.0.1"\n`,
    args: ['--workers', '2'],
  });
  try {
    const answers = await Promise.all(
      [1, 2, 3, 4].map((n) =>
        allOnOneSession(koa.port, [{ ':path': `/env.php?n=${n}` }, { ':path': '/a.txt' }]),
      ),
    );
    for (const [php, file] of answers) {
      t.is(JSON.parse(php!.body).protocol, 'HTTP/2.0');
      t.is(file!.body, 'hello over h2\n');
    }
    t.is(await upgradeStatusLine(koa.port), 'HTTP/1.1 200 OK');
  } finally {
    await koa.stop();
  }
});
