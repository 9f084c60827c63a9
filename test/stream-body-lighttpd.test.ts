/**
 * server.stream-response-body and server.upload-dirs, under lighttpd 1.4.69 and koa-lighty on
 * the same config (php-cgi spawned by bin-path on both sides):
 *  - 0 (set globally here): PHP's whole answer is spooled, then sent with Content-Length, and
 *    Range cuts it; while PHP has not finished, nothing reaches the client and the spool file
 *    is in upload-dirs. 1 and 2 (in $HTTP["url"] blocks): chunked, Range ignored.
 *  - upload-dirs: a chunked POST is spooled in the first usable directory (a missing one is
 *    skipped, and named at start), and nothing is left there when the request ends, aborted
 *    or not. With no usable directory, the request is a 500.
 * koa-lighty's spool files are unlinked as soon as they are open, so they are seen through
 * this process's /proc/self/fd (koa-lighty runs in the test process), lighttpd's in the
 * directory itself.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { ConfigError } from '../src/config/errors.js';
import { effectiveOptions, effectiveSources } from '../src/config/evaluate.js';
import { fastcgiOptions } from '../src/config/fastcgi-server.js';
import { OptionReader } from '../src/config/option-reader.js';
import { fastcgi } from '../src/middleware/fastcgi.js';
import { OptionError } from '../src/option-error.js';
import { loadConfig } from '../src/server/app.js';
import { phpSite } from './fastcgi-middleware-app.js';
import { rawRequest } from './helpers/http.js';
import { comparable } from './helpers/lighttpd.js';
import { type BothServers, startBoth } from './helpers/same-conf.js';
import { eventually } from './helpers/wait.js';

const root = mkdtempSync(join(tmpdir(), 'koa-lighty-stream-body-'));
const BIG = 1_000_000; // about 1 MiB, and not a multiple of anything PHP or the spool use
const PHP = {
  // ?n= bytes of numbered lines, so every range has its own content.
  'big.php': `<?php
header('Content-Type: text/plain');
$n = (int)($_GET['n'] ?? ${BIG});
$out = '';
for ($i = 0; strlen($out) < $n; $i++) $out .= sprintf("%07d\\n", $i);
echo substr($out, 0, $n);`,
  'not-found.php': `<?php
http_response_code(404);
header('Content-Type: text/plain');
echo str_repeat('z', 200000);`,
  // ?n= bytes, flushed, then waits for the file ?go= before its last line: the answer is
  // incomplete for as long as the test wants, without a sleep in the test.
  'held.php': `<?php
header('Content-Type: text/plain');
echo str_repeat('h', (int)$_GET['n']);
flush();
for ($i = 0; $i < 3000 && !file_exists($_GET['go']); $i++) usleep(10000);
echo "end\\n";`,
  'upload.php': `<?php
$body = file_get_contents('php://input');
echo 'CONTENT_LENGTH=', $_SERVER['CONTENT_LENGTH'] ?? '-', ' read=', strlen($body), ' md5=', md5($body), "\\n";`,
};
for (const dir of ['', 's1', 's2']) {
  mkdirSync(join(root, dir), { recursive: true });
  for (const [name, code] of Object.entries(PHP)) writeFileSync(join(root, dir, name), code);
}

/** The config for one side; its upload directories live in that side's socket directory. */
function conf(sockdir: string, uploadDirs: string[]): string {
  for (const dir of uploadDirs)
    if (!dir.endsWith('missing')) mkdirSync(join(sockdir, dir), { recursive: true });
  const list = uploadDirs.map((dir) => `"${join(sockdir, dir)}"`).join(', ');
  return `
server.document-root = "${root}"
server.modules = ("mod_fastcgi")
server.upload-dirs = ( ${list} )
server.stream-response-body = 0
fastcgi.server = (".php" => ((
  "bin-path" => "/usr/bin/php-cgi",
  "socket" => "${sockdir}/php.socket",
  "max-procs" => 1,
  "bin-environment" => ("PHP_FCGI_CHILDREN" => "4"),
)))
$HTTP["url"] =^ "/s1/" { server.stream-response-body = 1 }
$HTTP["url"] =^ "/s2/" { server.stream-response-body = 2 }
`;
}

let servers: BothServers | undefined;
/** Each side's upload directory (the one after the missing one). */
let lighttpdUploads = '';
let koaUploads = '';

test.before(async () => {
  servers = await startBoth((sockdir) => conf(sockdir, ['missing', 'up']));
  // koa-lighty's config file is in its socket directory; lighttpd's names its own.
  koaUploads = join(servers.loaded.file, '..', 'up');
  lighttpdUploads = findLighttpdUploads(servers);
});
test.after.always(async () => {
  await servers?.close();
  rmSync(root, { recursive: true, force: true });
});

/** lighttpd's upload directory, read from its config file's upload-dirs line. */
function findLighttpdUploads(both: BothServers): string {
  const text = readFileSync(join(both.lighttpd.dir, 'lighttpd.conf'), 'utf8');
  const match = /server\.upload-dirs = \( "[^"]*", "([^"]*)" \)/.exec(text);
  if (!match) throw new Error('no upload-dirs in lighttpd.conf');
  return match[1]!;
}

/** Files this process (koa-lighty) holds open in `dir`: unlinked spool files show `(deleted)`. */
function openIn(dir: string): string[] {
  const open: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(`${dir}/`)) open.push(target);
    } catch {
      // closed meanwhile (readdir's own descriptor, say)
    }
  }
  return open;
}

function expectedBig(n: number): string {
  let out = '';
  for (let i = 0; out.length < n; i++) out += `${String(i).padStart(7, '0')}\n`;
  return out.slice(0, n);
}

const compareBoth = async (path: string, headers?: Record<string, string>) => {
  const [lighttpd, koa] = await servers!.both(path, headers);
  return { lighttpd, koa, same: [comparable(koa), comparable(lighttpd)] as const };
};

test('stream-response-body 0: ~1 MiB of PHP output comes whole with Content-Length, as lighttpd sends it', async (t) => {
  const { lighttpd, koa, same } = await compareBoth('/big.php');
  t.deepEqual(same[0], same[1]);
  t.is(koa.headers['content-length'], String(BIG));
  t.is(koa.headers['accept-ranges'], 'bytes');
  t.false('transfer-encoding' in koa.headers);
  t.false('transfer-encoding' in lighttpd.headers);
  t.is(koa.body.toString('latin1'), expectedBig(BIG));
});

for (const range of [
  'bytes=100-199',
  'bytes=-10',
  'bytes=999990-',
  'bytes=0-9,500000-500009',
  'bytes=2000000-',
]) {
  test(`stream-response-body 0: Range ${range} on long PHP output, as lighttpd answers it`, async (t) => {
    const { koa, same } = await compareBoth('/big.php', { Range: range });
    t.deepEqual(same[0], same[1]);
    t.is(koa.status, range === 'bytes=2000000-' ? 416 : 206);
  });
}

test('stream-response-body 0: a long 404 from PHP has its length and no Accept-Ranges, as lighttpd', async (t) => {
  const { koa, same } = await compareBoth('/not-found.php', { Range: 'bytes=0-3' });
  t.deepEqual(same[0], same[1]);
  t.is(koa.status, 404);
  t.is(koa.headers['content-length'], '200000');
  t.false('accept-ranges' in koa.headers);
});

for (const mode of ['s1', 's2']) {
  test(`stream-response-body ${mode[1]}: long PHP output is chunked, Range ignored, as lighttpd`, async (t) => {
    for (const headers of [undefined, { Range: 'bytes=0-9' }]) {
      const { lighttpd, koa, same } = await compareBoth(`/${mode}/big.php`, headers);
      t.deepEqual(same[0], same[1]);
      t.is(koa.status, 200);
      t.is(lighttpd.headers['transfer-encoding'], 'chunked');
      t.is(koa.headers['transfer-encoding'], 'chunked');
      t.false('content-length' in koa.headers);
      t.is(koa.body.toString('latin1'), expectedBig(BIG));
    }
  });

  test(`stream-response-body ${mode[1]}: a short complete answer still has its length and honours Range`, async (t) => {
    const { koa, same } = await compareBoth(`/${mode}/big.php?n=1000`, { Range: 'bytes=10-19' });
    t.deepEqual(same[0], same[1]);
    t.is(koa.status, 206);
  });
}

/** A request written in parts; `response` settles with everything the server sent, at its close. */
function openExchange(port: number) {
  const socket = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const response = new Promise<Buffer>((resolve, reject) => {
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks)));
  });
  response.catch(() => {});
  return { socket, response, received: () => chunks.reduce((n, c) => n + c.length, 0) };
}

function parse(raw: Buffer) {
  const end = raw.indexOf('\r\n\r\n');
  const head = raw.subarray(0, end).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of head.slice(1)) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(head[0]!.split(' ')[1]), headers, body: raw.subarray(end + 4) };
}

const lighttpdFiles = () => readdirSync(lighttpdUploads);

test.serial(
  'stream-response-body 0: until PHP ends, nothing is sent and the answer waits in upload-dirs',
  async (t) => {
    const goDir = mkdtempSync(join(tmpdir(), 'koa-lighty-go-'));
    t.teardown(() => rmSync(goDir, { recursive: true, force: true }));
    const n = 2 * 1024 * 1024;
    const get = (port: number, go: string) => {
      const exchange = openExchange(port);
      exchange.socket.write(
        `GET /held.php?n=${n}&go=${join(goDir, go)} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
      );
      return exchange;
    };
    // Frees both PHP workers whatever happens.
    t.teardown(() => {
      for (const go of ['l', 'k']) writeFileSync(join(goDir, go), '');
    });
    const l = get(servers!.lighttpd.port, 'l');
    const k = get(servers!.koaPort, 'k');
    t.true(
      await eventually(() => lighttpdFiles().some((f) => f.startsWith('lighttpd-upload-'))),
      'lighttpd spools',
    );
    t.true(
      await eventually(() => openIn(koaUploads).some((f) => /koa-lighty-response-.* \(deleted\)$/.test(f))),
      'koa-lighty spools in upload-dirs',
    );
    t.is(readdirSync(koaUploads).length, 0, 'the spool file has no name');
    // PHP has written 2 MiB and not finished: neither server has sent a byte.
    t.is(l.received(), 0);
    t.is(k.received(), 0);
    writeFileSync(join(goDir, 'l'), '');
    writeFileSync(join(goDir, 'k'), '');
    const [lighttpd, koa] = [parse(await l.response), parse(await k.response)];
    for (const answer of [lighttpd, koa]) {
      t.is(answer.status, 200);
      t.is(answer.headers['content-length'], String(n + 4));
      t.is(answer.body.length, n + 4);
      t.true(answer.body.subarray(n).equals(Buffer.from('end\n')));
    }
    t.true(await eventually(() => openIn(koaUploads).length === 0), openIn(koaUploads).join('\n'));
    t.true(await eventually(() => lighttpdFiles().length === 0), lighttpdFiles().join('\n'));
  },
);

test.serial(
  'stream-response-body 0: a client that leaves while PHP writes leaves no spool file',
  async (t) => {
    const goDir = mkdtempSync(join(tmpdir(), 'koa-lighty-go-'));
    t.teardown(() => rmSync(goDir, { recursive: true, force: true }));
    const go = join(goDir, 'go');
    t.teardown(() => writeFileSync(go, '')); // frees the PHP worker whatever happens
    const k = openExchange(servers!.koaPort);
    k.socket.write(`GET /held.php?n=${2 * 1024 * 1024}&go=${go} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    t.true(await eventually(() => openIn(koaUploads).length > 0));
    k.socket.destroy();
    t.true(await eventually(() => openIn(koaUploads).length === 0), openIn(koaUploads).join('\n'));
    writeFileSync(go, '');
    t.is(readdirSync(koaUploads).length, 0);
  },
);

const CHUNK = Buffer.alloc(64 * 1024, 'u');
const chunk = (data: Buffer) =>
  Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n')]);
const POST_HEAD =
  'POST /upload.php HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n' +
  'Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n';

test.serial(
  'upload-dirs: a chunked POST is spooled in the first usable directory and gone after',
  async (t) => {
    const start = (port: number) => {
      const exchange = openExchange(port);
      exchange.socket.write(POST_HEAD);
      for (let i = 0; i < 32; i++) exchange.socket.write(chunk(CHUNK)); // 2 MiB, body not ended
      return exchange;
    };
    const l = start(servers!.lighttpd.port);
    const k = start(servers!.koaPort);
    t.true(
      await eventually(() => lighttpdFiles().some((f) => f.startsWith('lighttpd-upload-'))),
      'lighttpd spools',
    );
    t.true(
      await eventually(() => openIn(koaUploads).some((f) => /koa-lighty-upload-.* \(deleted\)$/.test(f))),
      `koa-lighty spools in ${koaUploads}: ${openIn(koaUploads)}`,
    );
    const rest = Buffer.alloc(1_000_000, 'v');
    for (const e of [l, k]) e.socket.write(Buffer.concat([chunk(rest), Buffer.from('0\r\n\r\n')]));
    const [lighttpd, koa] = [parse(await l.response), parse(await k.response)];
    t.is(koa.status, 200);
    t.is(koa.body.toString(), lighttpd.body.toString());
    t.regex(
      koa.body.toString(),
      new RegExp(`^CONTENT_LENGTH=${32 * 65536 + rest.length} read=${32 * 65536 + rest.length} `),
    );
    t.true(await eventually(() => openIn(koaUploads).length === 0), openIn(koaUploads).join('\n'));
    t.true(await eventually(() => lighttpdFiles().length === 0), lighttpdFiles().join('\n'));
    t.is(readdirSync(koaUploads).length, 0);
  },
);

test.serial('upload-dirs: a client that leaves in the middle of a chunked POST leaves nothing', async (t) => {
  const l = openExchange(servers!.lighttpd.port);
  const k = openExchange(servers!.koaPort);
  for (const e of [l, k]) {
    e.socket.write(POST_HEAD);
    for (let i = 0; i < 32; i++) e.socket.write(chunk(CHUNK));
  }
  t.true(await eventually(() => lighttpdFiles().length > 0));
  t.true(await eventually(() => openIn(koaUploads).length > 0));
  l.socket.destroy();
  k.socket.destroy();
  t.true(await eventually(() => openIn(koaUploads).length === 0), openIn(koaUploads).join('\n'));
  t.true(await eventually(() => lighttpdFiles().length === 0), lighttpdFiles().join('\n'));
  t.is(readdirSync(koaUploads).length, 0);
});

test('upload-dirs: a missing directory is named at start, with its line', (t) => {
  const missing = servers!.loaded.warnings.filter((w) => w.includes('server.upload-dirs'));
  t.is(missing.length, 1, missing.join('\n'));
  t.regex(missing[0]!, /lighttpd\.conf:4: server\.upload-dirs: \S+\/missing does not exist/);
});

test.serial(
  'upload-dirs with no usable directory: a chunked POST and a long buffered answer are 500',
  async (t) => {
    const both = await startBoth((sockdir) => conf(sockdir, ['missing']));
    t.teardown(() => both.close());
    const body = Buffer.concat([
      Buffer.from(POST_HEAD),
      ...Array.from({ length: 32 }, () => chunk(CHUNK)),
      Buffer.from('0\r\n\r\n'),
    ]);
    const post = async (port: number) => {
      const e = openExchange(port);
      e.socket.write(body);
      return parse(await e.response);
    };
    const [lighttpd, koa] = await Promise.all([post(both.lighttpd.port), post(both.koaPort)]);
    t.is(lighttpd.status, 500);
    t.is(koa.status, 500);
    t.is(lighttpd.headers['connection'], 'close');
    t.is(koa.headers['connection'], 'close');
    t.true(
      both.koaLog.lines.some((line) => /opening a temporary file failed: \S+\/missing\//.test(line)),
      both.koaLog.lines.join('\n'),
    );
    // lighttpd sends what fitted in memory as if it were all (seen: 200 and 65,430 bytes);
    // koa-lighty refuses to send a cut answer.
    const [cut, refused] = await Promise.all([
      rawRequest(both.lighttpd.port, '/big.php'),
      rawRequest(both.koaPort, '/big.php'),
    ]);
    t.is(cut.status, 200);
    t.true(cut.body.length < BIG);
    t.is(refused.status, 500);
  },
);

test('server.stream-response-body must be 0, 1 or 2: another value is refused at its line', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'koa-lighty-stream-conf-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'lighttpd.conf');
  writeFileSync(
    file,
    `server.document-root = "${root}"\nserver.modules = ("mod_fastcgi")\n` +
      `fastcgi.server = (".php" => (("socket" => "${dir}/php.sock")))\n` +
      `$HTTP["url"] =^ "/x/" {\n  server.stream-response-body = 5\n}\n`,
  );
  const error = t.throws(() => loadConfig(file), { instanceOf: ConfigError });
  t.regex(
    error!.message,
    /lighttpd\.conf:5: server\.stream-response-body: must be 0 \(buffer the whole answer\), 1 or 2/,
  );
});

test('the FastCGI stage gets both options from the config; unset, it streams (README, Deliberate differences)', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'koa-lighty-stream-default-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'lighttpd.conf');
  const options = (text: string) => {
    writeFileSync(file, text);
    const { config, warnings } = loadConfig(file);
    t.false(
      warnings.some((w) => /upload-dirs|stream-response-body/.test(w)),
      warnings.join('\n'),
    );
    return fastcgiOptions(
      new OptionReader(effectiveOptions(config, []), effectiveSources(config, []), file),
    )!;
  };
  const set = options(conf(dir, ['up']));
  t.is(set.streamResponseBody, 0);
  t.deepEqual(set.uploadDirs, [join(dir, 'up')]);
  const unset = options(
    conf(dir, ['up']).replace(/^server\.(stream-response-body|upload-dirs) = .*\n/gm, ''),
  );
  t.is(unset.streamResponseBody, undefined);
  t.is(unset.uploadDirs, undefined);
});

test('fastcgi({ streamResponseBody: 0, uploadDirs }) in a Koa app: a long answer has its length', async (t) => {
  const uploads = mkdtempSync(join(tmpdir(), 'koa-lighty-mw-uploads-'));
  t.teardown(() => rmSync(uploads, { recursive: true, force: true }));
  const site = await phpSite(t, { middleware: { streamResponseBody: 0, uploadDirs: [uploads] } });
  const whole = await rawRequest(site.port, '/mw-stream.php?kib=1024');
  t.is(whole.status, 200);
  t.is(whole.headers['content-length'], String(1024 * 1024));
  t.is(whole.body.length, 1024 * 1024);
  const part = await rawRequest(site.port, '/mw-stream.php?kib=1024', { Range: 'bytes=1048570-' });
  t.is(part.status, 206);
  t.is(part.headers['content-range'], 'bytes 1048570-1048575/1048576');
  t.is(part.body.toString(), 'xxxxxx');
  t.true(existsSync(uploads));
  // The spool is closed when the response has ended, which the client may see first.
  t.true(await eventually(() => openIn(uploads).length === 0), openIn(uploads).join('\n'));
  const streamed = await phpSite(t);
  t.is((await rawRequest(streamed.port, '/mw-stream.php?kib=1024')).headers['transfer-encoding'], 'chunked');
});

test('fastcgi(): a streamResponseBody other than 0, 1, 2 is an OptionError', (t) => {
  // Checked when the middleware is made, before anything starts.
  const make = (streamResponseBody: number) => () =>
    fastcgi({
      documentRoot: root,
      backends: [{ key: '.php', hosts: [{ socket: '/nonexistent' }] }],
      streamResponseBody: streamResponseBody as 0,
    });
  const error = t.throws(make(3), { instanceOf: OptionError });
  t.is(error!.option, 'streamResponseBody');
  t.notThrows(make(2));
});
