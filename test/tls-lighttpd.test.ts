/**
 * HTTPS from the lighttpd.conf: the same conf under Debian's lighttpd 1.4.69 (with
 * mod_openssl) and under `koa-lighty -f`, each with a clear listener (server.port) and a TLS
 * one (`$SERVER["socket"] == "127.0.0.1:PORT2"`), certificates from a CA made at test time.
 * curl --http1.1 (trusting only that CA, names resolved to 127.0.0.1) asks both for PHP, a
 * static file and send-file; Node's tls.connect reads which certificate a name gets (SNI).
 * Then what koa-lighty alone does: start-up refusals at the key's line, and certificates
 * reloaded when their files change, without dropping an open connection.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import test from 'ava';
import { type RunningKoaLighty, runCli, runCommand, startKoaLighty } from './helpers/koa-lighty.js';
import { LIGHTTPD, type RunningLighttpd, startLighttpd } from './helpers/lighttpd.js';
import { freePort } from './helpers/ports.js';
import { createTestCa, type IssuedCertificate } from './helpers/test-ca.js';
import { eventually } from './helpers/wait.js';

/** Failure bounds only: the machine may be loaded (a -t run takes seconds then). */
const ROOMY = { timeoutMs: 60_000 };

const ca = createTestCa();
const certA = ca.issue('a', { names: ['a.test'], serial: 'A1A1A1' });
const certB = ca.issue('b', { names: ['b.test'], serial: 'B2B2B2' });
const jane = ca.issue('jane', {
  names: [],
  client: true,
  commonName: 'jane',
  subject: { O: 'Example', emailAddress: 'jane@example.com' },
});
const root = mkdtempSync(join(tmpdir(), 'koa-lighty-tls-'));
writeFileSync(join(root, 'hello.txt'), 'hello over TLS\n');
writeFileSync(
  join(root, 'env.php'),
  `<?php
$keys = ['HTTPS', 'REQUEST_SCHEME', 'SERVER_PORT', 'REMOTE_USER', 'AUTH_TYPE'];
foreach ($_SERVER as $k => $v) if (strncmp($k, 'SSL_', 4) === 0 && $k !== 'SSL_CERT_DIR' && $k !== 'SSL_CERT_FILE') $keys[] = $k;
sort($keys);
foreach (array_unique($keys) as $k) echo $k, '=', str_replace("\\n", '|', $_SERVER[$k] ?? '-'), "\\n";
`,
);
writeFileSync(
  join(root, 'proto.php'),
  `<?php echo $_SERVER['SERVER_PROTOCOL'], ' ', $_SERVER['HTTPS'] ?? '-', ' ', $_SERVER['REQUEST_SCHEME'], "\\n";`,
);
writeFileSync(join(root, 'send.php'), `<?php header('X-Sendfile: ${join(root, 'hello.txt')}');`);

function conf(sockdir: string, tlsPort: number, v6Port: number): string {
  return `server.document-root = "${root}"
server.modules = ("mod_openssl", "mod_redirect", "mod_setenv", "mod_fastcgi")
fastcgi.server = (".php" => ((
  "bin-path" => "/usr/bin/php-cgi",
  "socket" => "${sockdir}/php.sock",
  "max-procs" => 1,
  "allow-x-send-file" => "enable",
)))
$SERVER["socket"] == "127.0.0.1:${tlsPort}" {
  ssl.engine = "enable"
  ssl.pemfile = "${certA.pemFile}"
  ssl.ca-file = "${ca.certFile}"
  ssl.verifyclient.activate = "enable"
  ssl.verifyclient.enforce = "disable"
  ssl.verifyclient.username = "SSL_CLIENT_S_DN_CN"
  ssl.verifyclient.exportcert = "enable"
}
$HTTP["host"] == "b.test" {
  ssl.pemfile = "${certB.pemFile}"
}
$SERVER["socket"] == "[::1]:${v6Port}" {
  setenv.add-response-header = ("X-Socket" => "v6")
}
$HTTP["scheme"] == "https" {
  setenv.add-response-header = ("Strict-Transport-Security" => "max-age=300")
}
$HTTP["scheme"] == "http" {
  $HTTP["host"] =~ ".*" {
    url.redirect = ("^/secure/.*" => "https://%0$0")
  }
}
`;
}

interface Ports {
  clear: number;
  tls: number;
  v6: number;
}
const servers: { lighttpd?: RunningLighttpd & Ports; koa?: RunningKoaLighty & Ports } = {};
const dirs: string[] = [];

test.before(async () => {
  const [lighttpdTls, koaTls, lighttpdV6, koaV6] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const lighttpdSockets = mkdtempSync(join(tmpdir(), 'koa-lighty-tls-l-'));
  const koaSockets = mkdtempSync(join(tmpdir(), 'koa-lighty-tls-k-'));
  dirs.push(lighttpdSockets, koaSockets);
  const [lighttpd, koa] = await Promise.all([
    startLighttpd(conf(lighttpdSockets, lighttpdTls, lighttpdV6), { alsoPorts: [lighttpdTls, lighttpdV6] }),
    startKoaLighty({
      timeoutMs: 60_000,
      conf: `${conf(koaSockets, koaTls, koaV6)}server.port = PORT\nserver.bind = "127.0.0.1"\n`,
    }),
  ]);
  servers.lighttpd = Object.assign(lighttpd, { clear: lighttpd.port, tls: lighttpdTls, v6: lighttpdV6 });
  servers.koa = Object.assign(koa, { clear: koa.port, tls: koaTls, v6: koaV6 });
});

test.after.always(async () => {
  await Promise.allSettled([servers.koa?.stop(), servers.lighttpd?.stop()]);
  for (const dir of [...dirs, root]) rmSync(dir, { recursive: true, force: true });
  ca.remove();
});

interface Answer {
  /** The status line's version as curl prints it: `HTTP/1.1`, `HTTP/2`. */
  version: string;
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * curl --http1.1 (or --http2: h2 by ALPN on TLS), trusting only the test CA, a name resolved
 * to 127.0.0.1.
 */
function curl(
  url: string,
  extra: string[] = [],
  protocol: '--http1.1' | '--http2' = '--http1.1',
): Promise<Answer> {
  const { hostname, port } = new URL(url);
  const literal = hostname.startsWith('[') || /^[\d.]+$/.test(hostname);
  const args = ['-s', protocol, '--cacert', ca.certFile];
  if (!literal) args.push('--resolve', `${hostname}:${port}:127.0.0.1`);
  return new Promise((resolve, reject) => {
    execFile('curl', [...args, '-D', '-', ...extra, url], { encoding: 'latin1' }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`curl ${url}: ${error.message} ${stderr}`));
      const end = stdout.indexOf('\r\n\r\n');
      const [statusLine, ...lines] = stdout.slice(0, end).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      const [version, status] = statusLine!.split(' ');
      resolve({ version: version!, status: Number(status), headers, body: stdout.slice(end + 4) });
    });
  });
}

/** Both servers' answers to the same path: (a server's ports) → URL. */
async function both(
  url: (p: Ports) => string,
  extra: string[] = [],
  protocol: '--http1.1' | '--http2' = '--http1.1',
): Promise<[Answer, Answer]> {
  const { lighttpd, koa } = servers;
  return Promise.all([curl(url(lighttpd!), extra, protocol), curl(url(koa!), extra, protocol)]);
}

/** Port numbers differ between the two servers: compare with names instead. */
function portless(text: string | undefined, p: Ports): string | undefined {
  return text
    ?.replaceAll(String(p.tls), 'TLSPORT')
    .replaceAll(String(p.clear), 'CLEARPORT')
    .replaceAll(String(p.v6), 'V6PORT');
}

test('PHP over TLS: HTTPS=on, REQUEST_SCHEME=https, SERVER_PORT the TLS port, $HTTP["scheme"] blocks apply', async (t) => {
  const [l, k] = await both((p) => `https://a.test:${p.tls}/env.php`);
  t.is(k.status, 200);
  t.regex(k.body, /^HTTPS=on$/m);
  t.regex(k.body, /^REQUEST_SCHEME=https$/m);
  t.regex(k.body, new RegExp(`^SERVER_PORT=${servers.koa!.tls}$`, 'm'));
  t.regex(k.body, /^SSL_PROTOCOL=TLSv1\.3$/m);
  t.regex(k.body, /^SSL_CLIENT_VERIFY=NONE$/m);
  t.is(k.headers['strict-transport-security'], 'max-age=300');
  t.is(portless(k.body, servers.koa!), portless(l.body, servers.lighttpd!));
  t.is(k.headers['strict-transport-security'], l.headers['strict-transport-security']);
});

test('HTTP/2 by ALPN on the TLS listener of `koa-lighty -f`: PHP, a static file and send-file, as lighttpd answers them', async (t) => {
  const [l, k] = await both((p) => `https://a.test:${p.tls}/proto.php`, [], '--http2');
  t.is(k.version, 'HTTP/2');
  t.is(k.status, 200);
  t.is(k.body, 'HTTP/2.0 on https\n');
  t.deepEqual([k.version, k.status, k.body], [l.version, l.status, l.body]);
  for (const path of ['/hello.txt', '/send.php']) {
    const [lf, kf] = await both((p) => `https://a.test:${p.tls}${path}`, [], '--http2');
    t.is(kf.version, 'HTTP/2', path);
    t.is(kf.body, 'hello over TLS\n', path);
    t.false('x-sendfile' in kf.headers, path);
    t.deepEqual([kf.version, kf.status, kf.body], [lf.version, lf.status, lf.body], path);
  }
  // curl --http1.1 on the same socket still gets HTTP/1.1 (ALPN offers both).
  const [, k1] = await both((p) => `https://a.test:${p.tls}/proto.php`);
  t.is(k1.version, 'HTTP/1.1');
  t.is(k1.body, 'HTTP/1.1 on https\n');
});

test('PHP on the clear listener: no HTTPS, REQUEST_SCHEME=http, its own port, no https-only header', async (t) => {
  const [l, k] = await both((p) => `http://a.test:${p.clear}/env.php`);
  t.regex(k.body, /^HTTPS=-$/m);
  t.regex(k.body, /^REQUEST_SCHEME=http$/m);
  t.regex(k.body, new RegExp(`^SERVER_PORT=${servers.koa!.clear}$`, 'm'));
  t.notRegex(k.body, /^SSL_/m);
  t.false('strict-transport-security' in k.headers);
  t.is(portless(k.body, servers.koa!), portless(l.body, servers.lighttpd!));
});

test('a static file and a send-file answer over TLS', async (t) => {
  for (const path of ['/hello.txt', '/send.php']) {
    const [l, k] = await both((p) => `https://a.test:${p.tls}${path}`);
    t.is(k.status, 200, path);
    t.is(k.body, 'hello over TLS\n', path);
    t.is(k.body, l.body, path);
    t.is(k.headers['content-length'], l.headers['content-length'], path);
  }
});

test('a client certificate: SSL_CLIENT_* and REMOTE_USER as PHP sees them under lighttpd', async (t) => {
  const withCert = ['--cert', jane.certFile, '--key', jane.keyFile];
  const [l, k] = await both((p) => `https://a.test:${p.tls}/env.php`, withCert);
  t.regex(k.body, /^SSL_CLIENT_VERIFY=SUCCESS$/m);
  t.regex(k.body, /^REMOTE_USER=jane$/m);
  t.regex(k.body, /^AUTH_TYPE=SSL_CLIENT_VERIFY$/m);
  t.regex(k.body, new RegExp(`^SSL_CLIENT_M_SERIAL=${jane.serial}$`, 'm'));
  t.regex(k.body, /^SSL_CLIENT_S_DN_CN=jane$/m);
  t.regex(k.body, /^SSL_CLIENT_CERT=-----BEGIN CERTIFICATE-----\|/m);
  t.is(portless(k.body, servers.koa!), portless(l.body, servers.lighttpd!));
});

test('an IPv6 $SERVER["socket"] block is a listener of its own, and its requests see its options', async (t) => {
  const [l, k] = await both((p) => `http://[::1]:${p.v6}/env.php`);
  t.is(k.status, 200);
  t.is(k.headers['x-socket'], 'v6');
  t.regex(k.body, new RegExp(`^SERVER_PORT=${servers.koa!.v6}$`, 'm'));
  t.is(portless(k.body, servers.koa!), portless(l.body, servers.lighttpd!));
  t.is(k.headers['x-socket'], l.headers['x-socket']);
  const [, clear] = await both((p) => `http://a.test:${p.clear}/hello.txt`);
  t.false('x-socket' in clear.headers);
});

/** The serial of the certificate a server shows for a name (SNI). */
function serialFor(port: number, servername: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(
      { host: '127.0.0.1', port, servername, ca: readCa(), checkServerIdentity: () => undefined },
      () => {
        const serial = socket.getPeerCertificate().serialNumber;
        socket.end();
        resolve(serial.toUpperCase());
      },
    );
    socket.on('error', reject);
  });
}

function readCa(): string {
  return readFileSync(ca.certFile, 'utf8');
}

test('SNI: $HTTP["host"] == "b.test" holds another certificate; other names get the socket\'s', async (t) => {
  for (const [name, serial] of [
    ['a.test', certA.serial],
    ['b.test', certB.serial],
    ['c.test', certA.serial],
  ] as const) {
    t.is(await serialFor(servers.koa!.tls, name), serial, name);
    t.is(await serialFor(servers.lighttpd!.tls, name), serial, `${name} (lighttpd)`);
  }
  const [l, k] = await both((p) => `https://b.test:${p.tls}/hello.txt`);
  t.is(k.body, 'hello over TLS\n');
  t.is(k.status, l.status);
});

test('http → https redirect as people write it: https://%0$0', async (t) => {
  const [l, k] = await both((p) => `http://a.test:${p.clear}/secure/page?x=1`);
  t.is(k.status, 301);
  t.is(k.headers.location, `https://a.test:${servers.koa!.clear}/secure/page?x=1`);
  t.is(portless(k.headers.location, servers.koa!), portless(l.headers.location, servers.lighttpd!));
  t.is(k.status, l.status);
});

/**
 * A conf of one clear listener (`PORT` for koa-lighty's helper) and one TLS socket holding
 * `tlsLines` after ssl.engine.
 */
function oneTlsSocket(
  tlsPort: number,
  tlsLines: string[],
  clear = 'server.port = PORT\nserver.bind = "127.0.0.1"\n',
): string {
  return `server.document-root = "${root}"
${clear}server.modules = ("mod_openssl")
$SERVER["socket"] == "127.0.0.1:${tlsPort}" {
  ssl.engine = "enable"
${tlsLines.map((line) => `  ${line}`).join('\n')}
}
`;
}

/** A conf whose TLS socket holds `tlsLines` (line 5 on), written to a temp file; -t binds nothing. */
function confFile(name: string, tlsLines: string[]): string {
  const file = join(root, `${name}.conf`);
  writeFileSync(
    file,
    [
      `server.document-root = "${root}"`,
      'server.port = 8080',
      'server.modules = ("mod_openssl")',
      '$SERVER["socket"] == "127.0.0.1:8443" {',
      '  ssl.engine = "enable"',
      ...tlsLines,
      '}',
      '',
    ].join('\n'),
  );
  return file;
}

test('a key that does not match its certificate: refused at the ssl.privkey line, as lighttpd refuses to start', async (t) => {
  const file = confFile('mismatch', [
    `  ssl.pemfile = "${certA.certFile}"`,
    `  ssl.privkey = "${certB.keyFile}"`,
  ]);
  const ours = await runCli(['-t', '-f', file], ROOMY);
  t.not(ours.code, 0);
  t.true(
    ours.stderr.includes(`${file}:7: ssl.privkey: ${certB.keyFile}: the private key does not match`),
    ours.stderr,
  );
  const theirs = await runCommand(LIGHTTPD, ['-tt', '-f', file], ROOMY);
  t.not(theirs.code, 0);
  t.regex(theirs.stderr, /Private key does not match/);
});

test('a key file that cannot be read, and ssl.engine without a certificate: refused, never served in clear', async (t) => {
  const missing = join(root, 'no-such.key');
  const unreadable = confFile('unreadable', [
    `  ssl.pemfile = "${certA.certFile}"`,
    `  ssl.privkey = "${missing}"`,
  ]);
  const ours = await runCli(['-t', '-f', unreadable], ROOMY);
  t.not(ours.code, 0);
  t.true(ours.stderr.includes(`${unreadable}:7: ssl.privkey: cannot read ${missing}`), ours.stderr);
  t.not((await runCommand(LIGHTTPD, ['-tt', '-f', unreadable], ROOMY)).code, 0);

  const bare = confFile('bare', []);
  const refused = await runCli(['-t', '-f', bare], ROOMY);
  t.not(refused.code, 0);
  t.true(refused.stderr.includes(`${bare}:5: ssl.engine: ssl.pemfile has to be set`), refused.stderr);
  t.not((await runCommand(LIGHTTPD, ['-tt', '-f', bare], ROOMY)).code, 0);
});

test('an expired certificate: a warning naming the file and its line; the server still starts', async (t) => {
  const old = ca.issue('old', { names: ['a.test'], days: 0 });
  const file = confFile('expired', [`  ssl.pemfile = "${old.pemFile}"`]);
  const result = await runCli(['-t', '-f', file], ROOMY);
  t.is(result.code, 0, result.stderr);
  t.true(
    result.stderr.includes(`warning: ${file}:6: ssl.pemfile: ${old.pemFile}: the certificate expired`),
    result.stderr,
  );
});

/** A TLS connection kept open: send a request, read one whole answer. */
class KeptConnection {
  private received = '';
  private constructor(readonly socket: TLSSocket) {
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      this.received += chunk;
    });
  }

  static open(port: number): Promise<KeptConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect(
        { host: '127.0.0.1', port, servername: 'a.test', ca: readCa(), checkServerIdentity: () => undefined },
        () => resolve(new KeptConnection(socket)),
      );
      socket.on('error', reject);
    });
  }

  serial(): string {
    return this.socket.getPeerCertificate().serialNumber.toUpperCase();
  }

  async get(path: string): Promise<string> {
    this.received = '';
    this.socket.write(`GET ${path} HTTP/1.1\r\nHost: a.test\r\n\r\n`);
    const complete = () => {
      const end = this.received.indexOf('\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(this.received.slice(0, end));
      return end >= 0 && length !== null && this.received.length >= end + 4 + Number(length[1]);
    };
    if (!(await eventually(complete, 60_000))) throw new Error(`no whole answer: ${this.received}`);
    return this.received;
  }
}

/** Puts a certificate (and its key) in place as certbot does: written beside, renamed over. */
function replace(pemFile: string, cert: IssuedCertificate): void {
  copyFileSync(cert.pemFile, `${pemFile}.new`);
  renameSync(`${pemFile}.new`, pemFile);
}

test('certificate files replaced: new connections get the new serial, an open keep-alive one keeps working', async (t) => {
  const live = mkdtempSync(join(tmpdir(), 'koa-lighty-tls-live-'));
  dirs.push(live);
  const pemFile = join(live, 'site.pem');
  copyFileSync(certA.pemFile, pemFile);
  const next = ca.issue('next', { names: ['a.test'], serial: 'C3C3C3' });
  const tlsPort = await freePort();
  const koa = await startKoaLighty({
    timeoutMs: 60_000,
    conf: oneTlsSocket(tlsPort, [`ssl.pemfile = "${pemFile}"`]),
  });
  t.teardown(() => koa.stop());
  const kept = await KeptConnection.open(tlsPort);
  t.is(kept.serial(), certA.serial);
  t.regex(await kept.get('/hello.txt'), /^HTTP\/1\.1 200 [\s\S]*hello over TLS\n$/);

  // Half-written: a file that is not a certificate yet keeps the old one, and says so.
  writeFileSync(pemFile, '-----BEGIN CERTIFICATE-----\nMIIB');
  t.true(
    await eventually(() => koa.output().includes('certificates not reloaded, the old ones stay'), 60_000),
  );
  t.is(await serialFor(tlsPort, 'a.test'), certA.serial);

  replace(pemFile, next);
  const fresh: string[] = [];
  let asking = false;
  t.true(
    await eventually(() => {
      // One handshake at a time: the machine may be slow to answer.
      if (!asking) {
        asking = true;
        serialFor(tlsPort, 'a.test')
          .then(
            (s) => fresh.push(s),
            () => {},
          )
          .finally(() => {
            asking = false;
          });
      }
      return fresh.includes(next.serial);
    }, 60_000),
    `serials seen: ${fresh.join(' ')}`,
  );
  t.regex(await kept.get('/hello.txt'), /^HTTP\/1\.1 200 [\s\S]*hello over TLS\n$/);
  t.is(kept.serial(), certA.serial);
  kept.socket.end();
});

test('client certificates asked for in a $HTTP["host"] block: refused at the line (node:tls asks per socket)', async (t) => {
  const file = confFile('per-host', [`  ssl.pemfile = "${certA.pemFile}"`]);
  writeFileSync(
    file,
    `${readFileSync(file, 'utf8')}$HTTP["host"] == "b.test" {\n  ssl.ca-file = "${ca.certFile}"\n  ssl.verifyclient.activate = "enable"\n}\n`,
  );
  const result = await runCli(['-t', '-f', file], ROOMY);
  t.not(result.code, 0);
  t.regex(
    result.stderr,
    new RegExp(`${file}:10: ssl\\.verifyclient\\.activate: client certificates are asked for per socket`),
  );
});

test('ssl.verifyclient.enforce: a client without a certificate gets no TLS session; with one it is served', async (t) => {
  const tlsPort = await freePort();
  const koa = await startKoaLighty({
    timeoutMs: 60_000,
    conf: oneTlsSocket(tlsPort, [
      `ssl.pemfile = "${certA.pemFile}"`,
      `ssl.ca-file = "${ca.certFile}"`,
      'ssl.verifyclient.activate = "enable"',
      'ssl.verifyclient.enforce = "enable"',
    ]),
  });
  t.teardown(() => koa.stop());
  await t.throwsAsync(curl(`https://a.test:${tlsPort}/hello.txt`));
  const served = await curl(`https://a.test:${tlsPort}/hello.txt`, [
    '--cert',
    jane.certFile,
    '--key',
    jane.keyFile,
  ]);
  t.is(served.status, 200);
  t.is(served.body, 'hello over TLS\n');
});

test('--workers 2: the clear and the TLS listener are both shared by the workers', async (t) => {
  const tlsPort = await freePort();
  const koa = await startKoaLighty({
    timeoutMs: 60_000,
    conf: oneTlsSocket(tlsPort, [`ssl.pemfile = "${certA.pemFile}"`]),
    args: ['--workers', '2'],
  });
  t.teardown(() => koa.stop());
  t.regex(koa.output(), new RegExp(`https://127\\.0\\.0\\.1:${tlsPort} with 2 workers`));
  for (let i = 0; i < 4; i++) {
    t.is((await curl(`https://a.test:${tlsPort}/hello.txt`)).body, 'hello over TLS\n');
    t.is((await curl(`http://a.test:${koa.port}/hello.txt`)).body, 'hello over TLS\n');
  }
});

test('ssl.verifyclient.depth = 0 with enforce: a certificate the CA signed (depth 1) is refused, as by lighttpd', async (t) => {
  const tlsLines = [
    `ssl.pemfile = "${certA.pemFile}"`,
    `ssl.ca-file = "${ca.certFile}"`,
    'ssl.verifyclient.activate = "enable"',
    'ssl.verifyclient.enforce = "enable"',
    'ssl.verifyclient.depth = 0',
  ];
  const [lighttpdTls, koaTls] = [await freePort(), await freePort()];
  const [lighttpd, koa] = await Promise.all([
    // lighttpd's helper adds server.port and server.bind itself.
    startLighttpd(oneTlsSocket(lighttpdTls, tlsLines, ''), { alsoPorts: [lighttpdTls] }),
    startKoaLighty({ timeoutMs: 60_000, conf: oneTlsSocket(koaTls, tlsLines) }),
  ]);
  t.teardown(() => Promise.allSettled([koa.stop(), lighttpd.stop()]));
  const withCert = ['--cert', jane.certFile, '--key', jane.keyFile];
  await t.throwsAsync(curl(`https://a.test:${lighttpdTls}/hello.txt`, withCert));
  await t.throwsAsync(curl(`https://a.test:${koaTls}/hello.txt`, withCert));
});
