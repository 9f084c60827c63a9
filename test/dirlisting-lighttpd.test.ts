/**
 * mod_dirlisting under lighttpd 1.4.69 and koa-lighty on the same configs and the same tree
 * (same mtimes, set with utimes; TZ set for both, so the dates are the same text): the page
 * byte for byte but for the inline sorting script (koa-lighty's own), sizes, dates, sort
 * order, escaping of hostile names, the dir-listing.* options in blocks, Range on a listing,
 * and the answers around it (index file, 301, 403 without the module, other methods).
 */
import { spawnSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { ConfigError } from '../src/config/errors.js';
import { loadConfig } from '../src/server/app.js';
import { type RawResponse, rawExchange, rawRequest } from './helpers/http.js';
import { LIGHTTPD } from './helpers/lighttpd.js';
import { type BothServers, startBoth } from './helpers/same-conf.js';

// lighttpd prints local time: a zone with DST, the same for the child lighttpd and this process.
process.env.TZ = 'America/New_York';

const root = mkdtempSync(join(tmpdir(), 'koa-lighty-dirlisting-'));
test.after.always(() => rmSync(root, { recursive: true, force: true }));

/** 2023-06-15 16:34:56 UTC, 12:34:56 in New York (EDT). */
const BASE = Date.UTC(2023, 5, 15, 16, 34, 56) / 1000;

/** Names a listing must escape, and byte order to sort (`Z` < `_` < `a` < `z` < `ü`). */
const HOSTILE = [
  '<img src=x onerror=alert(1)>.txt',
  '<script>alert(1)<\\script>.txt',
  '"onmouseover=alert(1)".txt',
  "it's.txt",
  '&amp;.html',
  'tick`.txt',
  'tab\there.txt',
  'a b+c%41#?.txt',
  'Z.txt',
  '_u.txt',
  'z.txt',
  'ü.txt',
];

/** Sizes around each of the format's edges (sparse files: nothing is written). */
const SIZES = [0, 1, 99, 100, 101, 1023, 1024, 1100, 102_399, 1_023_999, 1_024_000, 1_048_575, 5_000_000_000];

/** One directory of the tree: every kind of entry, each with its own mtime. */
function populate(dir: string): void {
  mkdirSync(dir, { recursive: true });
  let n = 0;
  const stamp = (path: string | Buffer) => {
    // 40 days (and 7 s) apart: some in summer time, some in winter time.
    const t = BASE + n * (40 * 86_400 + 7);
    n++;
    utimesSync(path, t, t);
  };
  for (const name of HOSTILE) writeFileSync(join(dir, name), 'x');
  for (const size of SIZES) {
    const file = join(dir, `size-${size}.bin`);
    writeFileSync(file, '');
    truncateSync(file, size);
  }
  // Not UTF-8: listed with its bytes (escaped for the link), left out by any exclude regex.
  writeFileSync(Buffer.from(join(dir, 'latin-\xff\xfe.txt'), 'latin1'), 'x');
  writeFileSync(join(dir, '.dotfile'), 'hidden');
  writeFileSync(join(dir, 'README.txt'), '<b>read me</b> & more\nline two\n');
  writeFileSync(join(dir, 'HEADER.txt'), '<i>head</i>\n');
  writeFileSync(join(dir, 'style.css'), 'x');
  for (const sub of ['sub', 'a&b', 'Zdir', '.hidden', 'has "quote"'])
    mkdirSync(join(dir, sub), { recursive: true });
  writeFileSync(join(dir, 'sub', 'inner.txt'), 'x');
  symlinkSync('sub', join(dir, 'linkdir'));
  symlinkSync('a.txt-missing', join(dir, 'dangling'));
  for (const name of [
    ...HOSTILE,
    ...SIZES.map((s) => `size-${s}.bin`),
    '.dotfile',
    'README.txt',
    'HEADER.txt',
  ])
    stamp(join(dir, name));
  stamp(Buffer.from(join(dir, 'latin-\xff\xfe.txt'), 'latin1'));
  stamp(join(dir, 'style.css'));
  stamp(join(dir, 'sub', 'inner.txt'));
  for (const sub of ['sub', 'a&b', 'Zdir', '.hidden', 'has "quote"']) stamp(join(dir, sub));
  stamp(dir);
}

for (const dir of ['', 'opts', 'raw', 'off', 'old', 'empty-readme', 'disabled', 'plain', 'cached'])
  populate(join(root, 'www', dir));
writeFileSync(join(root, 'www', 'empty-readme', 'README.txt'), '');
mkdirSync(join(root, 'www', 'dirindex'));
writeFileSync(join(root, 'www', 'dirindex', 'index.html'), '<p>index</p>\n');
utimesSync(join(root, 'www'), BASE, BASE);

const MIME = `mimetype.assign = (".txt" => "text/plain;charset=utf-8", ".html" => "text/html", ".css" => "text/css")`;

const listingConf = () => `
server.document-root = "${root}/www"
server.modules = ("mod_alias")
alias.url = ("/aliased/" => "${root}/www/sub/")
server.tag = "lighttpd/1.4.69"
index-file.names = ("index.html")
${MIME}
dir-listing.activate = "enable"
$HTTP["url"] =~ "^/opts/" {
  dir-listing.hide-dotfiles = "disable"
  dir-listing.exclude = ("^Z", "\\.bin$", "^has ")
  dir-listing.show-readme = "enable"
  dir-listing.hide-readme-file = "enable"
  dir-listing.show-header = "HEADER.txt"
  dir-listing.encoding = "utf-8"
  dir-listing.set-footer = "<b>my footer</b>"
  dir-listing.external-css = "/style.css"
  dir-listing.external-js = "/sort.js"
}
$HTTP["url"] =~ "^/raw/" {
  dir-listing.show-readme = "README.txt"
  dir-listing.encode-readme = "disable"
  dir-listing.show-header = "${root}/www/HEADER.txt"
  dir-listing.encode-header = "disable"
  dir-listing.hide-header-file = "enable"
  dir-listing.auto-layout = "disable"
}
$HTTP["url"] =~ "^/empty-readme/" { dir-listing.show-readme = "enable" }
$HTTP["url"] =~ "^/disabled/" { dir-listing.show-readme = "disable" server.tag = "" }
$HTTP["url"] =~ "^/off/" { dir-listing.activate = "disable" }
$HTTP["url"] =~ "^/old/" { server.dir-listing = "disable" }
`;

/** No dir-listing anywhere: lighttpd does not even load the module. */
const noListingConf = () => `
server.document-root = "${root}/www"
index-file.names = ("index.html")
${MIME}
dir-listing.show-readme = "enable"
`;

// Serial: lighttpd 1.4.69 (without server.max-connections) lists one directory of more than
// 32 entries at a time and answers 503 to a second one meanwhile; koa-lighty does not.
/** Each server keeps its cache in its own directory. */
const cacheConf = (dir: string) => {
  mkdirSync(join(dir, 'cache'));
  return `
server.document-root = "${root}/www"
server.tag = "lighttpd/1.4.69"
${MIME}
dir-listing.activate = "enable"
dir-listing.cache = ( "path" => "${dir}/cache/", "max-age" => 30 )
`;
};

let listing: BothServers | undefined;
let noListing: BothServers | undefined;
let cached: BothServers | undefined;
test.before(async () => {
  [listing, noListing, cached] = await Promise.all([
    startBoth(listingConf),
    startBoth(noListingConf),
    startBoth(cacheConf),
  ]);
});
test.after.always(async () => {
  await Promise.allSettled([listing?.close(), noListing?.close(), cached?.close()]);
});

const INLINE_SCRIPT = /\n<script type="text\/javascript">\n[\s\S]*?<\/script>\n\n/;

/** The page without its inline script (lighttpd's and koa-lighty's are different programs). */
function page(response: RawResponse): string {
  return response.body.toString('latin1').replace(INLINE_SCRIPT, '[script]');
}

function view(response: RawResponse, whole = false) {
  const h = response.headers;
  return {
    status: response.status,
    type: h['content-type'],
    ranges: h['accept-ranges'],
    range: h['content-range'],
    cache: h['cache-control'],
    location: h['location'],
    allow: h['allow'],
    ...(whole
      ? { length: h['content-length'], body: response.body.toString('latin1') }
      : { body: page(response) }),
  };
}

async function both(
  servers: BothServers,
  path: string,
  method = 'GET',
  headers: Record<string, string> = {},
) {
  return Promise.all([
    rawRequest(servers.lighttpd.port, path, headers, method),
    rawRequest(servers.koaPort, path, headers, method),
  ]);
}

test.serial('a directory without an index file is listed as lighttpd lists it', async (t) => {
  const [lighttpd, koa] = await both(listing!, '/');
  t.is(lighttpd.status, 200);
  t.deepEqual(view(koa), view(lighttpd));
  t.true(INLINE_SCRIPT.test(koa.body.toString('latin1')), 'a sorting script of its own');
});

test.serial('subdirectories, names that need escaping in the URL, and the ../ row', async (t) => {
  for (const path of ['/sub/', '/a%26b/', '/has%20%22quote%22/', '/linkdir/', '/Zdir/', '/aliased/']) {
    const [lighttpd, koa] = await both(listing!, path);
    t.is(lighttpd.status, 200, path);
    t.deepEqual(view(koa), view(lighttpd), path);
  }
});

test.serial(
  'sizes, dates in the server time zone, and the sort order: directories, then files, by bytes',
  async (t) => {
    const [, koa] = await both(listing!, '/plain/');
    const body = koa.body.toString('utf8');
    const names = [...body.matchAll(/<td class="n"><a href="([^"]*)"/g)].map((m) => m[1]);
    t.deepEqual(names.slice(0, 6), ['../', 'Zdir/', 'a%26b/', 'has%20%22quote%22/', 'linkdir/', 'sub/']);
    t.true(
      names.indexOf('Z.txt') < names.indexOf('_u.txt') && names.indexOf('_u.txt') < names.indexOf('z.txt'),
    );
    t.false(names.includes('dangling'), 'a dangling symlink is left out');
    t.false(
      names.slice(1).some((n) => n?.startsWith('.')),
      'dotfiles hidden by default',
    );
    const size = (bytes: number) =>
      new RegExp(`size-${bytes}\\.bin</a></td><td class="m">[^<]*</td><td class="s">([^<]*)<`).exec(
        body,
      )?.[1];
    t.deepEqual(SIZES.map(size), [
      '0.0K',
      '0.1K',
      '0.1K',
      '0.1K',
      '0.1K',
      '0.9K',
      '1.0K',
      '1.0K',
      '99.9K',
      '999.9K',
      '0.9M',
      '0.9M',
      '4.6G',
    ]);
    // The first HOSTILE entry got BASE: 12:34:56 in New York in June (EDT).
    t.regex(body, /onerror=alert\(1\)&#x3E;\.txt<\/a><\/td><td class="m">2023-Jun-15 12:34:56</);
  },
);

test.serial('hostile file names cannot break out of the markup', async (t) => {
  const [lighttpd, koa] = await both(listing!, '/plain/');
  const body = koa.body.toString('latin1');
  t.false(body.includes('<img'), 'no tag from a name');
  t.false(body.includes('<script>alert'), 'no script from a name');
  t.false(body.includes('"onmouseover'), 'no attribute from a name');
  t.true(
    body.includes('<a href="%22onmouseover%3Dalert(1)%22.txt">&#x22;onmouseover=alert(1)&#x22;.txt</a>'),
  );
  t.true(body.includes('<a href="tab%09here.txt">tab&#x09;here.txt</a>'));
  t.true(body.includes('<a href="a%20b%2Bc%2541%23%3F.txt">a b+c%41#?.txt</a>'));
  // Not UTF-8: the link percent-encodes the bytes; the text keeps them (they open no markup).
  t.true(koa.body.includes(Buffer.from('<a href="latin-%FF%FE.txt">latin-\xff\xfe.txt</a>', 'latin1')));
  t.deepEqual(view(koa), view(lighttpd));
});

test.serial(
  'the options in a block: dotfiles, exclude, readme and header, encoding, footer, external css and js',
  async (t) => {
    // Only one request each: lighttpd 1.4.69 shows an encoded readme only while its stat cache
    // holds a fresh descriptor (fixed in 1.4.72); koa-lighty shows it every time.
    const [lighttpd, koa] = await both(listing!, '/opts/');
    t.is(lighttpd.status, 200);
    t.deepEqual(view(koa, true), view(lighttpd, true), 'no inline script: the whole page is the same');
    const body = koa.body.toString('utf8');
    t.true(
      body.includes(
        '<pre class="readme">&#x3C;b&#x3E;read me&#x3C;/b&#x3E; &#x26; more&#x0A;line two&#x0A;</pre>',
      ),
    );
    t.true(body.includes('<body>\n<pre class="header">&#x3C;i&#x3E;head&#x3C;/i&#x3E;&#x0A;</pre><h2>'));
    t.false(body.includes('href="README.txt"'), 'hide-readme-file');
    t.true(body.includes('href=".dotfile"'), 'hide-dotfiles off');
    t.false(body.includes('latin-'), 'a name that is not UTF-8 is excluded by any regex');
    const again = await rawRequest(listing!.koaPort, '/opts/');
    t.deepEqual(again.body, koa.body, 'the readme is there every time');
  },
);

test.serial('unencoded readme and header, auto-layout off', async (t) => {
  const [lighttpd, koa] = await both(listing!, '/raw/');
  t.is(lighttpd.status, 200);
  t.deepEqual(view(koa, true), view(lighttpd, true));
  t.true(koa.body.toString().startsWith('<i>head</i>\n<h2>Index of /raw/</h2>'));
});

test.serial(
  'an empty readme adds nothing; "disable" and a blank server.tag as lighttpd 1.4.69 has them',
  async (t) => {
    for (const path of ['/empty-readme/', '/disabled/']) {
      const [lighttpd, koa] = await both(listing!, path);
      t.deepEqual(view(koa), view(lighttpd), path);
    }
    const [, disabled] = await both(listing!, '/disabled/');
    t.false(disabled.body.toString().includes('<div class="foot">'), 'no server.tag, no footer');
  },
);

test.serial('HEAD, Range, the query string (1.4.69 has no ?json), HTTP/1.0', async (t) => {
  // /raw/ has no inline script, so the lengths (and Content-Range totals) are the same too.
  const [headL, headK] = await both(listing!, '/raw/', 'HEAD');
  t.is(
    headL.headers['content-length'],
    String((await rawRequest(listing!.lighttpd.port, '/raw/')).body.length),
  );
  t.deepEqual(view(headK, true), view(headL, true));
  for (const range of ['bytes=0-99', 'bytes=10-20,30-40,500-600', 'bytes=-50', 'bytes=999999-']) {
    const [lighttpd, koa] = await both(listing!, '/raw/', 'GET', { Range: range });
    t.deepEqual(view(koa, true), view(lighttpd, true), range);
  }
  const [rangeL] = await both(listing!, '/raw/', 'GET', { Range: 'bytes=0-99' });
  t.is(rangeL.status, 206);
  const [jsonL, jsonK] = await both(listing!, '/sub/?json');
  t.is(jsonL.headers['content-type'], 'text/html');
  t.deepEqual(view(jsonK), view(jsonL));
  const http10 = (port: number) =>
    rawExchange(port, Buffer.from('GET /raw/ HTTP/1.0\r\nRange: bytes=0-9\r\n\r\n', 'latin1'));
  const [oldL, oldK] = await Promise.all([http10(listing!.lighttpd.port), http10(listing!.koaPort)]);
  t.is(oldL.status, 200);
  t.deepEqual(view(oldK, true), view(oldL, true), 'HTTP/1.0: no ranges');
});

test.serial('index file, 301 without the slash, blocks that turn listings off, other methods', async (t) => {
  for (const path of ['/dirindex/', '/sub', '/sub?a=1', '/off/', '/old/']) {
    const [lighttpd, koa] = await both(listing!, path);
    t.deepEqual(view(koa, true), view(lighttpd, true), path);
  }
  const [offL] = await both(listing!, '/off/');
  t.is(offL.status, 403);
  for (const method of ['OPTIONS', 'PUT', 'DELETE']) {
    const [lighttpd, koa] = await both(listing!, '/sub/', method);
    t.deepEqual(view(koa, true), view(lighttpd, true), method);
  }
  const post = (port: number) => rawRequest(port, '/sub/', { 'Content-Length': '0' }, 'POST');
  const [postL, postK] = await Promise.all([post(listing!.lighttpd.port), post(listing!.koaPort)]);
  t.is(postL.status, 403);
  t.deepEqual(view(postK, true), view(postL, true), 'POST is not listed');
});

test.serial('without dir-listing.activate a directory without an index stays 403', async (t) => {
  for (const path of ['/', '/sub/', '/dirindex/']) {
    const [lighttpd, koa] = await both(noListing!, path);
    t.deepEqual(view(koa, true), view(lighttpd, true), path);
  }
  const [lighttpd] = await both(noListing!, '/');
  t.is(lighttpd.status, 403);
  t.deepEqual(noListing!.loaded.warnings, [], 'dir-listing.* keys are known, even with the module off');
});

test.serial('bad dir-listing options stop the start with the line, as lighttpd refuses them', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'koa-lighty-dirlisting-conf-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'a-file'), '');
  const cases: Array<[string, RegExp]> = [
    ['dir-listing.cache = ( "max-age" => 10 )', /:3: dir-listing\.cache: must include "path"$/],
    [
      `dir-listing.cache = ( "path" => "${dir}/a-file" )`,
      /:3: dir-listing\.cache: "path" => ".*a-file" is not a dir$/,
    ],
    ['dir-listing.exclude = ( "(" )', /:3: dir-listing\.exclude: /],
  ];
  for (const [line, message] of cases) {
    const file = join(dir, 'lighttpd.conf');
    writeFileSync(file, `server.document-root = "${dir}"\ndir-listing.activate = "enable"\n${line}\n`);
    const error = t.throws(() => loadConfig(file), { instanceOf: ConfigError }, line);
    t.regex(error?.message ?? '', message, line);
    const oracle = spawnSync(LIGHTTPD, ['-tt', '-f', file], { encoding: 'utf8' });
    t.not(oracle.status, 0, `lighttpd refuses it too: ${line}`);
  }
  const file = join(dir, 'sort.conf');
  writeFileSync(
    file,
    `server.document-root = "${dir}"\ndir-listing.activate = "enable"\ndir-listing.sort = "disable"\n`,
  );
  t.deepEqual(loadConfig(file).warnings, [
    `${file}:3: dir-listing.sort: lighttpd 1.4.69 has no such option (it came in 1.4.74) and ignores it; listings are always sorted by name`,
  ]);
});

test.serial(
  'dir-listing.cache: kept as a file, served stale until max-age, refreshed when older',
  async (t) => {
    const dir = join(root, 'www', 'cached');
    const entry = (server: 'lighttpd' | 'koa') => join(cached!.dirs[server], 'cache', dir, 'dirlist.html');
    const [firstL, firstK] = await both(cached!, '/cached/');
    t.is(firstL.status, 200);
    t.deepEqual(view(firstK), view(firstL));
    t.is(firstK.headers['cache-control'], 'max-age=30');
    t.regex(firstK.headers['etag'] ?? '', /^"\d+"$/);
    t.regex(firstL.headers['etag'] ?? '', /^"\d+"$/);
    for (const server of ['lighttpd', 'koa'] as const) {
      t.is(statSync(entry(server)).mode & 0o777, 0o600, `${server}: the entry is 0600`);
      t.is(statSync(join(entry(server), '..')).mode & 0o777, 0o700, `${server}: its directories 0700`);
    }
    t.deepEqual(readFileSync(entry('koa')), firstK.body, 'the entry is the page');

    // A new file: both keep answering from the entry, with its ETag, even to If-None-Match.
    writeFileSync(join(dir, 'new-file.txt'), 'x');
    const [staleL, staleK] = await both(cached!, '/cached/', 'GET', {
      'If-None-Match': firstK.headers['etag']!,
    });
    // max-age counts down from the entry's mtime: a second apart at times (lighttpd's clock
    // ticks once per second of its event loop).
    t.deepEqual({ ...view(staleK), cache: undefined }, { ...view(staleL), cache: undefined });
    t.is(staleK.status, 200);
    t.is(staleK.headers['etag'], firstK.headers['etag']);
    t.regex(staleK.headers['cache-control'] ?? '', /^max-age=(30|[12]\d|\d)$/);
    t.false(staleK.body.includes('new-file.txt'));

    // An entry older than max-age is rebuilt (lighttpd may trust its stat cache for a second).
    const past = Date.now() / 1000 - 100;
    for (const server of ['lighttpd', 'koa'] as const) utimesSync(entry(server), past, past);
    const fresh = (port: number) => async () =>
      (await rawRequest(port, '/cached/')).body.includes('new-file.txt');
    t.true(await fresh(cached!.koaPort)(), 'koa-lighty rebuilds at once');
    t.true(await eventuallyAsync(fresh(cached!.lighttpd.port)), 'lighttpd rebuilds too');
    const [freshL, freshK] = await both(cached!, '/cached/');
    t.deepEqual({ ...view(freshK), cache: undefined }, { ...view(freshL), cache: undefined });
    t.true(readFileSync(entry('koa')).includes('new-file.txt'));
  },
);

/** Polls an async condition until it holds or `ms` pass. */
async function eventuallyAsync(condition: () => Promise<boolean>, ms = 5000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return condition();
}
