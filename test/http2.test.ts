/**
 * The whole lighttpd.conf pipeline over HTTP/2: koa-lighty's app (createApp(loadConfig(file)))
 * behind the Koa helper createServer, over TLS with a test CA (ALPN h2) and in clear text with
 * prior knowledge. Real php-cgi, real curl, node:http2 clients with concurrent streams.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import { type ClientHttp2Session, connect, constants, type IncomingHttpHeaders } from 'node:http2';
import type { AddressInfo, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import test from 'ava';
import Koa from 'koa';
import { memoryLogger } from '../src/log.js';
import { secdownloadUrl } from '../src/secdownload/url.js';
import { createApp, type LightyApp, loadConfig } from '../src/server/app.js';
import { createServer } from '../src/server/create-server.js';
import { alpnProtocols } from '../src/server/http2-server.js';
import { PHP_FIXTURES } from './helpers/php-cgi.js';
import { createTestCa, type TestCa } from './helpers/test-ca.js';
import { eventually } from './helpers/wait.js';

const run = promisify(execFile);
const SECRET = 'h2-secret';

const root = mkdtempSync(join(tmpdir(), 'koa-lighty-h2-'));
const www = join(root, 'www');
const protectedDir = join(root, 'protected');
mkdirSync(join(www, 'downloads'), { recursive: true });
mkdirSync(join(www, 'private'), { recursive: true });
mkdirSync(join(www, 'plain'), { recursive: true });
mkdirSync(protectedDir, { recursive: true });
writeFileSync(join(www, 'range.txt'), '0123456789abcdefghij');
writeFileSync(join(www, 'big.txt'), 'compress me, please. '.repeat(200));
writeFileSync(join(www, 'downloads', 'file.bin'), 'the download');
writeFileSync(join(www, 'private', 'note.txt'), 'for alice');
writeFileSync(join(www, 'denied.html'), '<p>visit first</p>');
writeFileSync(join(protectedDir, 'report.txt'), 'the protected report\n');
writeFileSync(join(root, 'users'), 'alice:wonderland\n');
writeFileSync(
  join(www, 'env.php'),
  `<?php
header('Content-Type: application/json');
// Connection-specific headers from PHP: never on an HTTP/2 answer.
header('Connection: close');
header('Keep-Alive: timeout=9');
header('X-LIGHTTPD-Custom: for the server only');
echo json_encode([
  'protocol' => $_SERVER['SERVER_PROTOCOL'],
  'https' => $_SERVER['HTTPS'] ?? null,
  'scheme' => $_SERVER['REQUEST_SCHEME'],
  'host' => $_SERVER['HTTP_HOST'] ?? null,
  'pseudo' => array_values(array_filter(array_keys($_SERVER), fn ($k) => str_contains($k, ':'))),
]);
`,
);
writeFileSync(join(www, 'plain', 'headers.php'), readFileSync(join(PHP_FIXTURES, 'mw-headers.php')));
writeFileSync(join(www, 'sendfile.php'), readFileSync(join(PHP_FIXTURES, 'mw-sendfile.php')));
writeFileSync(join(www, 'visit.php'), '<?php echo "welcome";');

const conf = join(root, 'lighttpd.conf');
writeFileSync(
  conf,
  `server.document-root = "${www}"
server.modules = ( "mod_access", "mod_auth", "mod_authn_file", "mod_trigger_b4_dl", "mod_secdownload",
                   "mod_fastcgi", "mod_deflate", "mod_accesslog" )
index-file.names = ( "index.html" )
mimetype.assign = ( ".html" => "text/html", ".txt" => "text/plain", ".bin" => "application/octet-stream" )
accesslog.filename = "${root}/access.log"
server.max-request-size = 1
fastcgi.server = ( ".php" => ((
  "bin-path" => "/usr/bin/php-cgi",
  "socket" => "${root}/php.socket",
  "max-procs" => 1,
  "bin-environment" => ( "PHP_FCGI_CHILDREN" => "4" ),
  "allow-x-send-file" => "enable",
  "x-sendfile-docroot" => ( "${protectedDir}" ),
)))
# A backend without send-file: its X-Sendfile* headers are only removed.
$HTTP["url"] =^ "/plain/" {
  fastcgi.server = ( ".php" => (( "bin-path" => "/usr/bin/php-cgi", "socket" => "${root}/plain.socket", "max-procs" => 1 )))
}
secdownload.secret = "${SECRET}"
secdownload.document-root = "${protectedDir}/"
secdownload.uri-prefix = "/dl/"
secdownload.timeout = 600
trigger-before-download.memory-store = "enable"
trigger-before-download.trigger-url = "^/visit"
trigger-before-download.download-url = "^/downloads/"
trigger-before-download.deny-url = "/denied.html"
deflate.mimetypes = ( "text/plain" )
deflate.allowed-encodings = ( "gzip" )
auth.backend = "plain"
auth.backend.plain.userfile = "${root}/users"
auth.require = ( "/private/" => ( "method" => "basic", "realm" => "h2", "require" => "valid-user" ) )
`,
);

let ca: TestCa;
let lighty: LightyApp;
let secure: Server;
let clear: HttpServer;
let securePort = 0;
let clearPort = 0;

const listen = async (server: Server): Promise<number> => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
};

test.before(async () => {
  ca = createTestCa();
  const cert = ca.issue('localhost', { names: ['localhost'] });
  lighty = createApp(loadConfig(conf), { log: memoryLogger() });
  await lighty.ready();
  secure = createServer(lighty.app, {
    log: memoryLogger(),
    tls: { cert: readFileSync(cert.certFile), key: readFileSync(cert.keyFile) },
  });
  clear = createServer(lighty.app) as HttpServer;
  securePort = await listen(secure);
  clearPort = await listen(clear);
});

test.after.always(async () => {
  for (const server of [secure, clear]) {
    (server as HttpServer | undefined)?.closeAllConnections?.();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  }
  await lighty?.close();
  ca?.remove();
  rmSync(root, { recursive: true, force: true });
});

interface H2Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

function tlsSession(): ClientHttp2Session {
  return connect(`https://localhost:${securePort}`, {
    ca: readFileSync(ca.certFile),
    host: '127.0.0.1',
    servername: 'localhost',
  } as Parameters<typeof connect>[1]);
}

function request(
  session: ClientHttp2Session,
  path: string,
  headers: Record<string, string> = {},
  body?: Buffer,
): Promise<H2Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': path, ...headers }, { endStream: body === undefined });
    const chunks: Buffer[] = [];
    let head: IncomingHttpHeaders = {};
    stream.on('response', (h) => (head = h));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () =>
      resolve({ status: Number(head[':status']), headers: head, body: Buffer.concat(chunks) }),
    );
    stream.on('error', reject);
    if (body !== undefined) stream.end(body);
  });
}

async function withSession<T>(open: () => ClientHttp2Session, use: (s: ClientHttp2Session) => Promise<T>) {
  const session = open();
  try {
    return await use(session);
  } finally {
    session.close();
  }
}

const CONNECTION_SPECIFIC = ['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection'];

test('TLS: ALPN agrees on h2; PHP sees HTTP/2.0, HTTPS=on and :authority as Host; no connection headers', async (t) => {
  const answer = await withSession(tlsSession, (s) => request(s, '/env.php'));
  t.is(answer.status, 200);
  t.deepEqual(JSON.parse(answer.body.toString()), {
    protocol: 'HTTP/2.0',
    https: 'on',
    scheme: 'https',
    host: `localhost:${securePort}`,
    pseudo: [],
  });
  for (const name of [...CONNECTION_SPECIFIC, 'x-lighttpd-custom'])
    t.is(answer.headers[name], undefined, name);
});

test('several concurrent streams on one session: PHP, static, range, HEAD, 304, send-file, errors', async (t) => {
  await withSession(tlsSession, async (s) => {
    const first = await request(s, '/range.txt');
    const etag = String(first.headers.etag);
    const [php, ranged, head, notModified, sendfile, stripped, missing, tooBig] = await Promise.all([
      request(s, '/env.php'),
      request(s, '/range.txt', { range: 'bytes=2-5' }),
      request(s, '/range.txt', { ':method': 'HEAD' }),
      request(s, '/range.txt', { 'if-none-match': etag }),
      request(s, `/sendfile.php?v=${encodeURIComponent(join(protectedDir, 'report.txt'))}`),
      request(s, '/plain/headers.php'),
      request(s, '/missing.txt'),
      request(s, '/env.php', { ':method': 'POST', 'content-length': '2048' }, Buffer.alloc(2048, 'x')),
    ]);
    t.is(first.headers['accept-ranges'], 'bytes');
    t.is(php.status, 200);
    t.is(ranged.status, 206);
    t.is(ranged.headers['content-range'], 'bytes 2-5/20');
    t.is(ranged.body.toString(), '2345');
    t.is(head.status, 200);
    t.is(head.headers['content-length'], '20');
    t.is(head.body.length, 0);
    t.is(notModified.status, 304);
    t.is(sendfile.status, 200);
    t.is(sendfile.body.toString(), 'the protected report\n');
    t.is(sendfile.headers['x-from-php'], 'yes');
    t.is(sendfile.headers['x-lighttpd-send-file'], undefined);
    t.is(stripped.body.toString(), 'the body PHP wrote');
    t.deepEqual(
      Object.keys(stripped.headers).filter((name) => /^x-(lighttpd-|sendfile2?$)/.test(name)),
      [],
    );
    t.is(stripped.headers['x-sendfile-extra'], 'kept');
    t.is(missing.status, 404);
    t.regex(missing.body.toString(), /<title>404 Not Found<\/title>/);
    t.is(tooBig.status, 413);
    for (const answer of [php, ranged, head, notModified, sendfile, stripped, missing, tooBig])
      for (const name of CONNECTION_SPECIFIC) t.is(answer.headers[name], undefined, name);
  });
});

test('secdownload, trigger-before-download, auth and compression over h2', async (t) => {
  await withSession(tlsSession, async (s) => {
    const link = secdownloadUrl({ secret: SECRET, uriPrefix: '/dl/', algorithm: 'md5', path: '/report.txt' });
    const good = await request(s, link);
    t.is(good.status, 200);
    t.is(good.body.toString(), 'the protected report\n');
    const forged = await request(s, `/dl/${link[4] === '0' ? '1' : '0'}${link.slice(5)}`);
    t.is(forged.status, 403);

    const before = await request(s, '/downloads/file.bin');
    t.is(before.status, 307);
    t.regex(String(before.headers.location), /\/denied\.html$/);
    t.is((await request(s, '/visit.php')).status, 200);
    const after = await request(s, '/downloads/file.bin');
    t.is(after.status, 200);
    t.is(after.body.toString(), 'the download');

    const challenge = await request(s, '/private/note.txt');
    t.is(challenge.status, 401);
    t.regex(String(challenge.headers['www-authenticate']), /^Basic realm="h2"/);
    const authorised = await request(s, '/private/note.txt', {
      authorization: `Basic ${Buffer.from('alice:wonderland').toString('base64')}`,
    });
    t.is(authorised.status, 200);
    t.is(authorised.body.toString(), 'for alice');

    const gzipped = await request(s, '/big.txt', { 'accept-encoding': 'gzip' });
    t.is(gzipped.headers['content-encoding'], 'gzip');
    t.is(gunzipSync(gzipped.body).toString(), readFileSync(join(www, 'big.txt'), 'utf8'));
  });
});

test('the access log says HTTP/2.0 in %H and %r', async (t) => {
  await withSession(tlsSession, (s) => request(s, '/range.txt?logged=1'));
  const log = join(root, 'access.log');
  t.true(await eventually(() => readFileSync(log, 'utf8').includes('/range.txt?logged=1')));
  const line = readFileSync(log, 'utf8')
    .split('\n')
    .find((l) => l.includes('/range.txt?logged=1'));
  t.regex(String(line), /"GET \/range\.txt\?logged=1 HTTP\/2\.0" 200 20 /);
});

test('curl --http2 over TLS (ALPN h2) and --http1.1 on the same port', async (t) => {
  const args = ['-s', '--cacert', ca.certFile, '--resolve', `localhost:${securePort}:127.0.0.1`];
  const url = `https://localhost:${securePort}/env.php`;
  const h2 = await run('curl', [...args, '--http2', '-w', '\n%{http_version}', url]);
  const [body2, version2] = h2.stdout.split('\n');
  t.is(version2, '2');
  t.is(JSON.parse(body2!).protocol, 'HTTP/2.0');
  const h1 = await run('curl', [...args, '--http1.1', '-D', '-', url]);
  t.regex(h1.stdout, /^HTTP\/1\.1 200 OK\r\n/);
  t.regex(h1.stdout, /"protocol":"HTTP\\\/1\.1","https":"on"/);
});

test('clear text: curl --http2-prior-knowledge speaks h2c; Upgrade: h2c is answered over HTTP/1.1', async (t) => {
  const prior = await run('curl', [
    '-s',
    '--http2-prior-knowledge',
    '-w',
    '\n%{http_version}',
    `http://127.0.0.1:${clearPort}/env.php`,
  ]);
  const [body, version] = prior.stdout.split('\n');
  t.is(version, '2');
  t.like(JSON.parse(body!), {
    protocol: 'HTTP/2.0',
    https: null,
    scheme: 'http',
    host: `127.0.0.1:${clearPort}`,
  });
  const upgrade = await run('curl', ['-s', '--http2', '-D', '-', `http://127.0.0.1:${clearPort}/range.txt`]);
  t.regex(upgrade.stdout, /^HTTP\/1\.1 200 OK\r\n/);
  t.regex(upgrade.stdout, /0123456789abcdefghij$/);
});

test('HTTP/1.1 on the dispatching clear-text port is untouched: keep-alive, pipelining bytes sniffed back', async (t) => {
  const out = await run('curl', [
    '-s',
    '--http1.1',
    '-o',
    '/dev/null',
    '-o',
    '/dev/null',
    '-w',
    '%{http_code} %{num_connects}\n',
    `http://127.0.0.1:${clearPort}/range.txt`,
    `http://127.0.0.1:${clearPort}/env.php`,
  ]);
  t.is(out.stdout, '200 1\n200 0\n');
});

test('ALPN list for a config; without HTTP/2 a TLS client gets HTTP/1.1', async (t) => {
  t.deepEqual(alpnProtocols({ h2proto: true }), ['h2', 'http/1.1']);
  t.deepEqual(alpnProtocols({ h2proto: false }), ['http/1.1']);
  const cert = ca.issue('localhost', { names: ['localhost'] });
  const only1 = createServer(lighty.app, {
    tls: { cert: readFileSync(cert.certFile), key: readFileSync(cert.keyFile) },
    http2: false,
  });
  const port = await listen(only1);
  try {
    const out = await run('curl', [
      '-s',
      '--cacert',
      ca.certFile,
      '--resolve',
      `localhost:${port}:127.0.0.1`,
      '--http2',
      '-w',
      '\n%{http_version}',
      `https://localhost:${port}/env.php`,
    ]);
    const [body, version] = out.stdout.split('\n');
    t.is(version, '1.1');
    t.is(JSON.parse(body!).protocol, 'HTTP/1.1');
  } finally {
    (only1 as unknown as HttpServer).closeAllConnections();
    await new Promise((resolve) => only1.close(resolve));
  }
});

test('server.max-connections counts an HTTP/2 session as one connection, whatever its streams', async (t) => {
  const gated = createServer(lighty.app, { maxConnections: 1, log: memoryLogger() }) as HttpServer;
  const port = await listen(gated);
  const first = connect(`http://127.0.0.1:${port}`);
  try {
    const answers = await Promise.all([1, 2, 3, 4].map((n) => request(first, `/range.txt?n=${n}`)));
    t.deepEqual(
      answers.map((a) => a.status),
      [200, 200, 200, 200],
    );
    // A second connection waits (unread) while the first session is open, as in lighttpd.
    const second = connect(`http://127.0.0.1:${port}`);
    let answered = false;
    const waiting = request(second, '/range.txt?second').then((a) => {
      answered = true;
      return a;
    });
    await request(first, '/range.txt?again');
    t.false(answered);
    first.close();
    t.is((await waiting).status, 200);
    second.close();
  } finally {
    first.destroy();
    gated.closeAllConnections();
    await new Promise((resolve) => gated.close(resolve));
  }
});

test('a session is reset cleanly by GOAWAY when the server closes', async (t) => {
  const own = createServer(lighty.app) as HttpServer;
  const port = await listen(own);
  const session = connect(`http://127.0.0.1:${port}`);
  t.is((await request(session, '/range.txt')).status, 200);
  const goaway = new Promise<number>((resolve) => session.once('goaway', (code) => resolve(code)));
  const closed = new Promise((resolve) => own.close(resolve));
  t.is(await goaway, constants.NGHTTP2_NO_ERROR);
  await closed;
  session.destroy();
});

test('server.feature-flags: h2proto, h2c and graceful-shutdown-timeout read as lighttpd reads them; other flags named in a warning', (t) => {
  const file = join(root, 'flags.conf');
  const base = `server.document-root = "${www}"\n`;
  const read = (flags: string) => {
    writeFileSync(file, `${base}server.feature-flags = ( ${flags} )\n`);
    return loadConfig(file);
  };
  writeFileSync(file, base);
  t.deepEqual(loadConfig(file).server.http2, { h2proto: true, h2c: true });
  t.is(loadConfig(file).server.gracefulShutdownTimeoutMs, 8000, "lighttpd's default");
  t.deepEqual(read('"server.h2c" => "disable"').server.http2, { h2proto: true, h2c: false });
  // h2c counts only where h2proto is on (configfile.c).
  t.deepEqual(read('"server.h2proto" => "disable", "server.h2c" => "enable"').server.http2, {
    h2proto: false,
    h2c: false,
  });
  // Debian's default lighttpd.conf sets the graceful timeout: read, no warning.
  const debian = read('"server.h2proto" => "enable", "server.graceful-shutdown-timeout" => 5');
  t.deepEqual(debian.warnings, []);
  t.is(debian.server.gracefulShutdownTimeoutMs, 5000);
  const other = read('"server.h2proto" => "enable", "server.clock-jump-restart" => 1800');
  t.true(
    other.warnings.some((w) => w.startsWith(`${file}:2: server.feature-flags: "server.clock-jump-restart"`)),
    other.warnings.join('\n'),
  );
  const error = t.throws(() => read('"server.h2proto" => "maybe"'));
  t.regex(String(error?.message), /flags\.conf:2/);
});

test('Expect: 100-continue over h2: the interim answer, then PHP reads the body', async (t) => {
  const out = await run('curl', [
    '-s',
    '--http2-prior-knowledge',
    '-H',
    'Expect: 100-continue',
    '--data-binary',
    'x=1',
    '-w',
    '\n%{http_code}',
    `http://127.0.0.1:${clearPort}/env.php`,
  ]);
  const [body, status] = out.stdout.split('\n');
  t.is(status, '200');
  t.is(JSON.parse(body!).protocol, 'HTTP/2.0');
});

test('a Koa app of its own behind createServer: the same app over h2 and HTTP/1.1 on one TLS port', async (t) => {
  const app = new Koa();
  app.use((ctx) => {
    ctx.set('Connection', 'close'); // an app's HTTP/1 habit must not break its h2 answers
    ctx.body = { version: ctx.req.httpVersion, host: ctx.host, protocol: ctx.protocol, path: ctx.path };
  });
  const cert = ca.issue('localhost', { names: ['localhost'] });
  const own = createServer(app, {
    tls: { cert: readFileSync(cert.certFile), key: readFileSync(cert.keyFile) },
  });
  const port = await listen(own);
  try {
    const session = connect(`https://localhost:${port}`, {
      ca: readFileSync(ca.certFile),
      host: '127.0.0.1',
      servername: 'localhost',
    } as Parameters<typeof connect>[1]);
    const answers = await Promise.all([request(session, '/a'), request(session, '/b')]);
    session.close();
    t.deepEqual(JSON.parse(answers[1]!.body.toString()), {
      version: '2.0',
      host: `localhost:${port}`,
      protocol: 'https',
      path: '/b',
    });
    t.is(answers[0]!.headers.connection, undefined);
    const h1 = await run('curl', [
      '-s',
      '--http1.1',
      '--cacert',
      ca.certFile,
      '--resolve',
      `localhost:${port}:127.0.0.1`,
      `https://localhost:${port}/c`,
    ]);
    t.deepEqual(JSON.parse(h1.stdout), {
      version: '1.1',
      host: `localhost:${port}`,
      protocol: 'https',
      path: '/c',
    });
  } finally {
    (own as unknown as HttpServer).closeAllConnections();
    await new Promise((resolve) => own.close(resolve));
  }
});
