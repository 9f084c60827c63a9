/**
 * mod_deflate under Debian's lighttpd 1.4.69 (with lighttpd-mod-deflate) and koa-lighty on the
 * same config: which answers are compressed (static files small and large, PHP output, the
 * server's own error pages), with which coding, their Vary, ETag, Content-Type and
 * Accept-Ranges, the body once decompressed, the `ETag-gzip` 304/412, HEAD, deflate.cache-dir
 * (the same file names, a changed file never answered from an old copy), and the places where
 * koa-lighty differs on purpose (Range, a backend's 206, q-values).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import zlib, { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import test from 'ava';
import { ZSTD_AVAILABLE } from '../src/http/content-coding.js';
import { type RawResponse, rawRequest } from './helpers/http.js';
import { LIGHTTPD } from './helpers/lighttpd.js';
import { type BothServers, startBoth } from './helpers/same-conf.js';

const root = mkdtempSync(join(tmpdir(), 'koa-lighty-deflate-'));
function file(path: string, content: string | Buffer): void {
  const full = join(root, path);
  mkdirSync(join(full, '..'), { recursive: true });
  writeFileSync(full, content);
}
const text = (lines: number, word = 'text') =>
  Array.from({ length: lines }, (_, i) => `line ${i} of some ${word}, hello world\n`).join('');
file('a.txt', text(200));
file('small.txt', 'x'.repeat(200));
file('edge.txt', 'y'.repeat(256));
file('edge1.txt', 'y'.repeat(257));
file('a.css', 'body { color: red }\n'.repeat(100));
file('a.js', 'var x = 1;\n'.repeat(100));
file('a.png', Buffer.alloc(4000, 7));
file('a.json', JSON.stringify({ list: Array.from({ length: 200 }, (_, i) => i) }));
file('big.txt', text(4000, 'big file'));
file('changing.txt', text(100, 'first'));
file(
  't.php',
  `<?php
$n = isset($_GET['n']) ? (int)$_GET['n'] : 5000;
if (isset($_GET['vary'])) header('Vary: Cookie');
if (isset($_GET['ce'])) header('Content-Encoding: identity');
if (isset($_GET['etag'])) header('ETag: "abc"');
if (isset($_GET['s'])) header('Status: ' . $_GET['s']);
if (isset($_GET['ct'])) header('Content-Type: ' . $_GET['ct']);
$line = "php output line\\n";
for ($i = 0; $i < intdiv($n, 16); $i++) echo $i % 7 ? $line : "line $i\\n";
`,
);

file('sf.php', `<?php header("X-Sendfile: ${root}/" . $_GET['f']);`);

const conf = (sockdir: string) => `
server.document-root = "${root}"
server.modules = ("mod_deflate", "mod_fastcgi")
mimetype.assign = (".txt" => "text/plain", ".css" => "text/css", ".js" => "application/javascript",
                   ".png" => "image/png", ".json" => "application/json")
deflate.mimetypes = ("text/", "application/json")
deflate.allowed-encodings = ("br", "gzip", "deflate")
deflate.cache-dir = "${sockdir}/cache/"
fastcgi.server = (".php" => ((
  "bin-path" => "/usr/bin/php-cgi",
  "socket" => "${sockdir}/php.socket",
  "max-procs" => 1,
  "bin-environment" => ("PHP_FCGI_CHILDREN" => "2"),
  "allow-x-send-file" => "enable",
  "x-sendfile-docroot" => ("${root}/"),
)))
$HTTP["url"] =^ "/spooled/" {
  server.stream-response-body = 0
}
$HTTP["url"] =^ "/limited/" {
  deflate.max-compress-size = 1
  deflate.min-compress-size = 100
}
$HTTP["url"] =^ "/all/" {
  deflate.mimetypes = ("")
  deflate.compression-level = 9
}
$HTTP["url"] =^ "/none/" {
  deflate.mimetypes = ()
}
$HTTP["url"] =^ "/z/" {
  deflate.allowed-encodings = ("zstd", "br", "gzip")
}
`;

let servers: BothServers | undefined;
test.before(async () => {
  for (const dir of ['spooled', 'limited', 'all', 'none', 'z']) {
    mkdirSync(join(root, dir));
    writeFileSync(join(root, dir, 't.php'), `<?php include "${root}/t.php";`);
    writeFileSync(join(root, dir, 'a.txt'), text(200));
    writeFileSync(join(root, dir, 'a.png'), Buffer.alloc(4000, 7));
  }
  writeFileSync(join(root, 'limited', 'k.txt'), 'k'.repeat(1024));
  writeFileSync(join(root, 'limited', 'k1.txt'), 'k'.repeat(1025));
  servers = await startBoth(conf);
});
test.after.always(async () => {
  await servers?.close();
  rmSync(root, { recursive: true, force: true });
});

/** The coding an answer came with, if any. */
function coding(r: RawResponse): string | undefined {
  return r.headers['content-encoding'];
}

/** The body as the client reads it once decoded. */
function decoded(r: RawResponse): string {
  const coding = r.headers['content-encoding'];
  const body = r.body;
  if (coding === 'gzip' || coding === 'x-gzip') return gunzipSync(body).toString('latin1');
  if (coding === 'deflate') return inflateSync(body).toString('latin1');
  if (coding === 'br') return brotliDecompressSync(body).toString('latin1');
  if (coding === 'zstd')
    return (zlib as unknown as { zstdDecompressSync(b: Buffer): Buffer })
      .zstdDecompressSync(body)
      .toString('latin1');
  return body.toString('latin1');
}

/** What a user sees; `length` is whether the answer came with a Content-Length. */
function seen(r: RawResponse, { length = true } = {}) {
  return {
    status: r.status,
    'content-type': r.headers['content-type'],
    'content-encoding': coding(r),
    vary: r.headers['vary'],
    etag: r.headers['etag'],
    'accept-ranges': r.headers['accept-ranges'],
    ...(length ? { 'content-length': r.headers['content-length'] !== undefined } : {}),
    body: decoded(r),
  };
}

const gzip = { 'Accept-Encoding': 'gzip' };
const cases: Array<{
  path: string;
  headers?: Record<string, string>;
  method?: string;
  coding?: string;
  streamed?: boolean;
}> = [
  { path: '/a.txt', headers: gzip, coding: 'gzip' },
  { path: '/a.txt', headers: { 'Accept-Encoding': 'br' }, coding: 'br' },
  { path: '/a.txt', headers: { 'Accept-Encoding': 'deflate' }, coding: 'deflate' },
  { path: '/a.txt', headers: { 'Accept-Encoding': 'x-gzip' }, coding: 'x-gzip' },
  // The server's order decides: br is listed first.
  { path: '/a.txt', headers: { 'Accept-Encoding': 'gzip, deflate, br, zstd' }, coding: 'br' },
  { path: '/a.txt', headers: { 'Accept-Encoding': 'gzip;q=0.5, br' }, coding: 'br' },
  { path: '/a.txt' },
  { path: '/a.txt', headers: { 'Accept-Encoding': 'GZIP' } },
  { path: '/a.txt', headers: { 'Accept-Encoding': 'identity' } },
  { path: '/a.txt', headers: { 'Accept-Encoding': '*' } },
  { path: '/a.txt', headers: { 'Accept-Encoding': 'compress, bzip2' } },
  { path: '/small.txt', headers: gzip },
  { path: '/edge.txt', headers: gzip },
  { path: '/edge1.txt', headers: gzip, coding: 'gzip' },
  { path: '/a.css', headers: gzip, coding: 'gzip' },
  // application/javascript is sent as text/javascript, which "text/" covers.
  { path: '/a.js', headers: gzip, coding: 'gzip' },
  { path: '/a.json', headers: gzip, coding: 'gzip' },
  { path: '/a.png', headers: gzip },
  { path: '/big.txt', headers: gzip, coding: 'gzip' },
  { path: '/big.txt', headers: { 'Accept-Encoding': 'br' }, coding: 'br' },
  { path: '/a.txt', headers: gzip, method: 'HEAD' },
  { path: '/a.txt', headers: { ...gzip, 'If-None-Match': '$ETAG-gzip' } },
  { path: '/a.txt', headers: { ...gzip, 'If-None-Match': '$ETAG' } },
  { path: '/a.txt', headers: { 'Accept-Encoding': 'br', 'If-None-Match': '$ETAG-gzip' }, coding: 'br' },
  {
    path: '/a.txt',
    headers: { ...gzip, 'If-None-Match': '$ETAG-gzip', 'Content-Length': '0' },
    method: 'POST',
  },
  // lighttpd's own error pages are compressed too, including the 400 of a broken target.
  { path: '/missing.txt', headers: gzip, coding: 'gzip' },
  { path: '/%00', headers: gzip, coding: 'gzip' },
  { path: '/t.php', headers: gzip, coding: 'gzip' },
  { path: '/t.php?vary=1', headers: gzip, coding: 'gzip' },
  { path: '/t.php?ce=1', headers: gzip, coding: 'identity' },
  { path: '/t.php?etag=1', headers: gzip, coding: 'gzip' },
  { path: '/t.php?ct=image/png', headers: gzip },
  { path: '/t.php?n=100', headers: gzip },
  { path: '/t.php?s=404', headers: gzip, coding: 'gzip' },
  { path: '/t.php', headers: gzip, method: 'HEAD' },
  // A file PHP names with X-Sendfile is compressed like a static one.
  { path: '/sf.php?f=a.txt', headers: gzip, coding: 'gzip' },
  { path: '/sf.php?f=big.txt', headers: { 'Accept-Encoding': 'br' }, coding: 'br' },
  // PHP's own Content-Type (text/html) is the answer's: compressed, as lighttpd does.
  { path: '/sf.php?f=a.png', headers: gzip, coding: 'gzip' },
  // Past 64 KiB: koa-lighty streams it (chunked), lighttpd reads it whole first.
  { path: '/t.php?n=2000000', headers: gzip, coding: 'gzip', streamed: true },
  { path: '/spooled/t.php?n=2000000', headers: gzip, coding: 'gzip', streamed: true },
  // deflate.max-compress-size is in KiB: 1024 bytes are compressed, 1025 are not.
  { path: '/limited/k.txt', headers: gzip, coding: 'gzip' },
  { path: '/limited/k1.txt', headers: gzip },
  { path: '/limited/t.php?n=1000', headers: gzip, coding: 'gzip' },
  { path: '/limited/t.php?n=2000', headers: gzip },
  { path: '/all/a.png', headers: gzip, coding: 'gzip' },
  { path: '/all/a.txt', headers: { 'Accept-Encoding': 'deflate' }, coding: 'deflate' },
  { path: '/none/a.txt', headers: gzip },
  { path: '/none/t.php', headers: gzip },
  // zstd where this Node has it (lighttpd's Debian build has it).
  ...(ZSTD_AVAILABLE
    ? [
        { path: '/z/a.txt', headers: { 'Accept-Encoding': 'gzip, br, zstd' }, coding: 'zstd' },
        { path: '/z/t.php', headers: { 'Accept-Encoding': 'zstd' }, coding: 'zstd' },
      ]
    : []),
];

async function withEtag(path: string, headers: Record<string, string>): Promise<Record<string, string>> {
  if (!Object.values(headers).some((v) => v.includes('$ETAG'))) return headers;
  const etag = (await rawRequest(servers!.lighttpd.port, path)).headers['etag'] ?? '';
  // `$ETAG-gzip` is the compressed answer's ETag (`"123-gzip"`), `$ETAG` the file's own.
  const value = (v: string) => v.replace('$ETAG-gzip', `${etag.slice(0, -1)}-gzip"`).replace('$ETAG', etag);
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, value(v)]));
}

for (const c of cases) {
  const method = c.method ?? 'GET';
  test(`${method} ${c.path} ${JSON.stringify(c.headers ?? {})}`, async (t) => {
    const headers = await withEtag(c.path, c.headers ?? {});
    const [expected, actual] = await Promise.all([
      rawRequest(servers!.lighttpd.port, c.path, headers, method),
      rawRequest(servers!.koaPort, c.path, headers, method),
    ]);
    t.is(coding(expected), c.coding, 'lighttpd compresses as the case says');
    t.deepEqual(seen(actual, { length: !c.streamed }), seen(expected, { length: !c.streamed }));
    if (actual.headers['content-length'] !== undefined && method !== 'HEAD')
      t.is(Number(actual.headers['content-length']), actual.body.length);
  });
}

/** The files under a server's cache dir, relative to it. */
function cached(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else out.push(relative(dir, path));
    }
  };
  if (existsSync(dir)) walk(dir);
  return out.sort();
}

test.serial('deflate.cache-dir: both servers keep the same copies, named by path and ETag', async (t) => {
  for (const path of ['/a.css', '/big.txt']) {
    await servers!.both(path, gzip);
    await servers!.both(path, { 'Accept-Encoding': 'br' });
  }
  const etag = (await servers!.both('/a.css'))[0].headers['etag']!.slice(1, -1);
  const lighttpdCopies = cached(join(servers!.dirs.lighttpd, 'cache'));
  const koaCopies = cached(join(servers!.dirs.koa, 'cache'));
  t.true(lighttpdCopies.includes(`${root.slice(1)}/a.css-${etag}-gzip`), lighttpdCopies.join(' '));
  t.true(lighttpdCopies.includes(`${root.slice(1)}/a.css-${etag}-br`));
  // Each copy is in place; PHP output and error pages are never kept.
  const wanted = lighttpdCopies.filter((name) => /\/(a\.css|big\.txt)-/.test(name));
  t.deepEqual(
    koaCopies.filter((name) => /\/(a\.css|big\.txt)-/.test(name)),
    wanted,
  );
  t.false(koaCopies.some((name) => name.includes('.php')));
  const mode = statSync(join(servers!.dirs.koa, 'cache', wanted[0]!)).mode & 0o777;
  t.is(mode, 0o600);
});

test.serial('deflate.cache-dir: a changed file is never answered from the old copy', async (t) => {
  const before = await servers!.both('/changing.txt', gzip);
  t.is(decoded(before[1]), text(100, 'first'));
  file('changing.txt', text(100, 'second version'));
  // Both servers trust a stat for a second; after that each must send the new content.
  const deadline = Date.now() + 10_000;
  let answers = before;
  while (Date.now() < deadline) {
    answers = await servers!.both('/changing.txt', gzip);
    if (answers.every((r) => decoded(r) === text(100, 'second version'))) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  t.deepEqual(seen(answers[1]), seen(answers[0]));
  t.is(decoded(answers[1]), text(100, 'second version'));
  t.not(answers[1].headers['etag'], before[1].headers['etag']);
  // And it stays new: the next answer comes from the new copy.
  const again = await servers!.both('/changing.txt', gzip);
  t.is(decoded(again[1]), text(100, 'second version'));
});

test('Range: lighttpd compresses the whole file and ignores the Range; koa-lighty sends the 206 uncompressed', async (t) => {
  const [lighttpd, koa] = await servers!.both('/a.txt', { ...gzip, Range: 'bytes=0-9' });
  t.is(lighttpd.status, 200);
  t.is(coding(lighttpd), 'gzip');
  t.is(koa.status, 206);
  t.is(coding(koa), undefined);
  t.is(koa.body.toString(), text(200).slice(0, 10));
});

test('a backend’s 206: lighttpd compresses it, koa-lighty does not', async (t) => {
  const [lighttpd, koa] = await servers!.both('/t.php?s=206', gzip);
  t.is(coding(lighttpd), 'gzip');
  t.is(koa.status, 206);
  t.is(coding(koa), undefined);
  t.is(decoded(koa), decoded(lighttpd));
});

test('q-values: lighttpd ignores them, koa-lighty honours q=0 and prefers the higher q', async (t) => {
  const refused = await servers!.both('/a.txt', { 'Accept-Encoding': 'gzip;q=0' });
  t.is(coding(refused[0]), 'gzip');
  t.is(coding(refused[1]), undefined);
  t.is(refused[1].headers['vary'] as string | undefined, undefined);
  const preferred = await servers!.both('/a.txt', { 'Accept-Encoding': 'br;q=0.1, gzip' });
  t.is(coding(preferred[0]), 'br');
  t.is(coding(preferred[1]), 'gzip');
  t.is(decoded(preferred[1]), decoded(preferred[0]));
});

test('no deprecation or "not supported" line for a mod_deflate config (zstd’s, before Node 22.15)', (t) => {
  t.deepEqual(
    servers!.loaded.warnings
      .filter((line) => /deflate|compress/.test(line))
      .map((line) => line.replace(/^\S+: /, '')),
    ZSTD_AVAILABLE
      ? []
      : [
          `deflate.allowed-encodings: zstd needs Node 22.15 or 23.8 and later (this is ${process.version}): not used`,
        ],
  );
});

/** lighttpd -tt's complaints about a config (what it prints before it would start). */
function lighttpdSays(confText: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'koa-lighty-deflate-tt-'));
  try {
    const path = join(dir, 'lighttpd.conf');
    writeFileSync(path, confText);
    const run = spawnSync(LIGHTTPD, ['-tt', '-f', path], { encoding: 'utf8' });
    return run.stderr;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const pihole = (extra: string) => (sockdir: string) =>
  `
server.document-root = "${root}"
server.modules = ("mod_access", "mod_accesslog")
server.modules += ("mod_compress")
compress.cache-dir = "${sockdir}/compress/"
compress.filetype = ( "application/javascript", "text/css", "text/html", "text/plain" )
mimetype.assign = (".txt" => "text/plain", ".css" => "text/css", ".js" => "application/javascript")
${extra}
`;

test.serial(
  'Pi-hole’s mod_compress lines: the same deprecation warnings, and (as in 1.4.69) nothing compressed',
  async (t) => {
    const both = await startBoth(pihole(''));
    t.teardown(() => both.close());
    const oracle = lighttpdSays(pihole('')('/tmp'));
    t.regex(oracle, /"mod_compress" is DEPRECATED and has been replaced with "mod_deflate"/);
    const log = await both.lighttpd.errorLog();
    for (const line of [
      'DEPRECATED: compress.filetype replaced with deflate.mimetypes',
      'DEPRECATED: compress.cache-dir replaced with deflate.cache-dir',
    ]) {
      t.true(log.includes(line), log);
      t.true(
        both.loaded.warnings.some((w) => w.endsWith(line)),
        both.loaded.warnings.join('\n'),
      );
    }
    t.true(
      both.loaded.warnings.some((w) => w.includes('"mod_compress" is DEPRECATED and has been replaced')),
    );
    t.true(both.loaded.warnings.some((w) => /deflate\.allowed-encodings is not/.test(w)));
    t.false(
      both.loaded.warnings.some((w) => /not supported/.test(w)),
      both.loaded.warnings.join('\n'),
    );
    for (const path of ['/a.txt', '/a.js', '/a.css']) {
      const [expected, actual] = await both.both(path, { 'Accept-Encoding': 'gzip, deflate, br' });
      t.is(coding(expected), undefined);
      t.deepEqual(seen(actual), seen(expected));
    }
  },
);

test.serial(
  'Pi-hole’s mod_compress lines with compress.allowed-encodings: compressed and cached as lighttpd does',
  async (t) => {
    const both = await startBoth(pihole('compress.allowed-encodings = ("gzip", "deflate")'));
    t.teardown(() => both.close());
    t.true(
      both.loaded.warnings.some((w) =>
        w.endsWith('DEPRECATED: compress.allowed-encodings replaced with deflate.allowed-encodings'),
      ),
    );
    for (const path of ['/a.txt', '/a.js', '/a.css', '/a.png']) {
      const [expected, actual] = await both.both(path, { 'Accept-Encoding': 'gzip, deflate, br' });
      t.is(coding(expected), path === '/a.png' ? undefined : 'gzip', path);
      t.deepEqual(seen(actual), seen(expected));
    }
    const inRoot = (dir: string) => cached(join(dir, 'compress')).filter((n) => n.startsWith(root.slice(1)));
    t.deepEqual(inRoot(both.dirs.koa), inRoot(both.dirs.lighttpd));
    t.is(inRoot(both.dirs.koa).length, 3);
  },
);
