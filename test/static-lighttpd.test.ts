import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import Koa from 'koa';
import type { MimeAssign } from '../src/http/mime.js';
import { memoryLogger } from '../src/log.js';
import { accessDeny } from '../src/middleware/access.js';
import { lighttpdErrors } from '../src/middleware/errors.js';
import { stripInternalHeaders } from '../src/middleware/response-filter.js';
import { type StaticFilesOptions, staticFiles } from '../src/middleware/static.js';
import { type ComparedRequest, compareWithLighttpd, startLighttpd } from './helpers/lighttpd.js';

/**
 * koa-lighty's static stack against Debian's lighttpd 1.4.69 serving the same copy of
 * fixtures/www with the same options: each request must get the same status, headers that
 * matter and body bytes. This also checks the shared core (ETag, error pages, ranges).
 */
const MIME: MimeAssign = [
  ['.html', 'text/html'],
  ['.txt', 'text/plain;charset=utf-8'],
  ['.jpg', 'image/jpeg'],
  ['.png', 'image/png'],
  ['.css', 'text/css'],
  ['.json', 'application/json'],
];
const DENY = ['.inc', '~'];

/** The same stack a lighttpd.conf front end would build, in lighttpd's order. */
function koaStack(root: string, deny: string[], options: Omit<StaticFilesOptions, 'documentRoot'>): Koa {
  const app = new Koa();
  app.use(lighttpdErrors({ log: memoryLogger() }));
  app.use(stripInternalHeaders({ server: 'lighttpd/1.4.69' }));
  app.use(accessDeny({ deny }));
  app.use(staticFiles({ documentRoot: root, mimeTypes: MIME, log: memoryLogger(), ...options }));
  return app;
}

const mimeConf = `mimetype.assign = (${MIME.map(([suffix, type]) => `"${suffix}" => "${type}"`).join(', ')})`;
const list = (items: readonly string[]) => `(${items.map((s) => `"${s}"`).join(', ')})`;

/** Entries git cannot carry well, made in the copy only. */
function prepare(root: string): void {
  for (const dir of ['a b', 'ü', "t~!'()*", 't$&+,;=:@', 't[]^`{|}', 'dirindex/index.html'])
    mkdirSync(join(root, dir), { recursive: true });
  writeFileSync(join(root, 'empty.txt'), '');
  symlinkSync('range.txt', join(root, 'link.txt'));
  symlinkSync('sub', join(root, 'linkdir'));
}

const requests: ComparedRequest[] = [
  // files, types, the octet-stream fallback, index files
  { path: '/' },
  { path: '/index.html' },
  { path: '/pic.jpg' },
  { path: '/images/logo.png' },
  { path: '/style.css' },
  { path: '/data.json' },
  { path: '/app.js' },
  { path: '/LICENSE' },
  { path: '/README.TXT' },
  { path: '/with%20space.txt' },
  { path: '/%70ic.jpg' },
  { path: '/big.txt' },
  { path: '/sub/' },
  { path: '/sub/page.txt' },
  // directories
  { path: '/sub' },
  { path: '/sub?x=1' },
  { path: '/s%75b' },
  { path: '/sub/../sub' },
  { path: '/noindex' },
  { path: '/noindex/' },
  { path: '/images/' },
  { path: '/a%20b' },
  { path: '/%C3%BC' },
  { path: "/t~!'()*" },
  { path: '/t$&+,;=:@' },
  { path: '/t%5B%5D%5E%60%7B%7C%7D' },
  { path: '/sub?x=%41&y=%2f' },
  { path: '/sub?' },
  { path: '/./sub' },
  { path: '//sub' },
  { path: '/sub/.' },
  { path: '/sub/..' },
  { path: 'http://127.0.0.1/sub?z=1' },
  { path: '/dirindex/' },
  { path: '/linkdir' },
  { path: '/linkdir/' },
  { path: '/link.txt' },
  { path: '/empty.txt' },
  { path: '/empty.txt', headers: { Range: 'bytes=0-0' } },
  // missing, path-info
  { path: '/missing' },
  { path: '/missing/' },
  { path: '/missing.txt/x' },
  { path: '/pic.jpg/anything' },
  { path: '/pic.jpg/' },
  { path: '/sub/page.txt/a/b' },
  { path: '/noindex/file.txt/x/y' },
  // traversal and bad targets
  { path: '/../../../etc/passwd' },
  { path: '/%2e%2e/%2e%2e/etc/passwd' },
  { path: '/sub/%2E%2E/pic.jpg' },
  { path: '/sub/..%2fpic.jpg' },
  { path: '//pic.jpg' },
  { path: '/./pic.jpg' },
  { path: '/%00' },
  { path: '/pic.jpg%00.txt' },
  { path: '/%0a' },
  { path: '/%ff' },
  // `/%c3` (a truncated sequence) is a 400 here, a 404 in lighttpd: see request-path.ts.
  { path: '/%c0%af' },
  { path: '/%f5%80%80%80' },
  { path: '/sub%2fpage.txt' },
  { path: '/sub%2Fpage.txt' },
  { path: '/%2e/pic.jpg' },
  { path: '/sub/./../pic.jpg' },
  { path: '/sub/page.txt/..' },
  { path: '/pic.jpg?%00' },
  { path: '/pic.jpg?a=%0a' },
  { path: '/pic.jpg?a=%ff' },
  { path: '/pic.jpg?a=%c3' },
  { path: '/pic.jpg?a=%c0%af' },
  { path: '/pic.jpg?a=%7f' },
  { path: '/pic.jpg#frag' },
  { path: '/pic.jpg?#' },
  // Raw control characters and raw bytes >= 0x80 never reach Koa: Node's parser refuses the
  // request line (400 without lighttpd's page; the server's clientError handler decides).
  { path: '/%7f' },
  { path: '/%1f' },
  { path: '/p%69c.jpg' },
  { path: '/sub/%2e%2e%2fpic.jpg' },
  { path: '/sub\\..\\pic.jpg' },
  // access-deny and exclude-extensions
  { path: '/config.inc' },
  { path: '/config.inc/' },
  { path: '/config.inc/x' },
  { path: '/config%2einc' },
  { path: '/config.inc?x=1' },
  { path: '/sub/../config.inc' },
  { path: '/CONFIG.INC' },
  { path: '/x.inc' },
  { path: '/index.html~' },
  { path: '/notes.bak' },
  { path: '/notes.bak/x' },
  // Range
  { path: '/range.txt', headers: { Range: 'bytes=0-4' } },
  { path: '/range.txt', headers: { Range: 'bytes=-5' } },
  { path: '/range.txt', headers: { Range: 'bytes=30-' } },
  { path: '/range.txt', headers: { Range: 'bytes=30-100' } },
  { path: '/range.txt', headers: { Range: 'bytes=0-1,5-6' } },
  { path: '/range.txt', headers: { Range: 'bytes=5-6,0-1' } },
  { path: '/range.txt', headers: { Range: 'bytes=100-' } },
  { path: '/range.txt', headers: { Range: 'bytes=5-2' } },
  { path: '/range.txt', headers: { Range: 'bytes=-0' } },
  { path: '/range.txt', headers: { Range: 'bytes=x-y' } },
  { path: '/range.txt', headers: { Range: 'bytes=0-0,-1' } },
  { path: '/range.txt', headers: { Range: 'items=0-4' } },
  { path: '/range.txt', headers: { Range: 'bytes=0-4', 'If-Range': '$ETAG' } },
  { path: '/range.txt', headers: { Range: 'bytes=0-4', 'If-Range': '"1"' } },
  { path: '/range.txt', headers: { Range: 'bytes=0-4', 'If-Range': '$LAST_MODIFIED' } },
  { path: '/range.txt', headers: { Range: 'bytes=0-4', 'If-Range': 'Mon, 01 Jan 2001 00:00:00 GMT' } },
  { path: '/big.txt', headers: { Range: 'bytes=0-9,1000-1009' } },
  { path: '/big.txt', headers: { Range: 'bytes=0-9,50-59,99990-' } },
  { path: '/big.txt', headers: { Range: 'bytes=99990-' } },
  { path: '/pic.jpg', headers: { Range: 'bytes=0-1,100-101' } },
  { path: '/LICENSE', headers: { Range: 'bytes=0-1,70-79' } },
  { path: '/LICENSE', headers: { Range: 'bytes=0-1' } },
  { path: '/big.txt', method: 'HEAD', headers: { Range: 'bytes=0-9,1000-1009' } },
  { path: '/big.txt', headers: { Range: 'bytes=0-9,90-99' } },
  { path: '/big.txt', headers: { Range: 'bytes=0-9,91-99' } },
  { path: '/big.txt', headers: { Range: 'bytes=0-9,89-99' } },
  { path: '/big.txt', headers: { Range: 'bytes=500-509,0-9,1000-1009' } },
  { path: '/big.txt', headers: { Range: 'bytes=1000-1009,0-9,5-1500' } },
  { path: '/big.txt', headers: { Range: 'bytes=500-600,0-10,550-700,5-20' } },
  {
    path: '/big.txt',
    headers: { Range: `bytes=${[...Array(12).keys()].map((i) => `${i * 200}-${i * 200}`).join(',')}` },
  },
  {
    path: '/big.txt',
    headers: {
      Range: `bytes=0-0,10-10,${[...Array(10).keys()].map((i) => `${(i + 1) * 200}-${(i + 1) * 200}`).join(',')}`,
    },
  },
  {
    path: '/big.txt',
    headers: {
      Range: `bytes=0-0,x,${[...Array(10).keys()].map((i) => `${(i + 1) * 200}-${(i + 1) * 200}`).join(',')}`,
    },
  },
  {
    path: '/big.txt',
    headers: {
      Range: `bytes=2200-2200,${[...Array(11).keys()].map((i) => `${i * 200}-${i * 200}`).join(',')}`,
    },
  },
  { path: '/big.txt', headers: { Range: 'bytes= 5 - 9' } },
  { path: '/big.txt', headers: { Range: 'bytes=+5-9' } },
  { path: '/big.txt', headers: { Range: 'bytes=5-+9' } },
  { path: '/big.txt', headers: { Range: 'bytes=0-99999999999999999999999' } },
  { path: '/big.txt', headers: { Range: 'bytes=0-1234567890123456' } },
  { path: '/big.txt', headers: { Range: 'bytes=5-9x,20-29' } },
  { path: '/big.txt', headers: { Range: 'BYTES=5-6' } },
  { path: '/big.txt', headers: { Range: 'bytes=-300000' } },
  { path: '/big.txt', headers: { Range: 'bytes=,5-6' } },
  { path: '/big.txt', headers: { Range: 'bytes=5-6,' } },
  { path: '/big.txt', headers: { Range: 'bytes=5-6, 100-110' } },
  { path: '/big.txt', headers: { Range: 'bytes=5-6 ,100-110' } },
  { path: '/big.txt', headers: { Range: 'bytes=0-9,5-' } },
  { path: '/big.txt', headers: { Range: 'bytes=97000-97000,0-0' } },
  { path: '/big.txt', headers: { Range: 'bytes=-0,0-0' } },
  { path: '/big.txt', headers: { Range: 'bytes=5' } },
  { path: '/big.txt', headers: { Range: 'bytes=-' } },
  { path: '/range.txt', method: 'POST', headers: { Range: 'bytes=0-4', 'Content-Length': '0' } },
  // validators
  { path: '/range.txt', headers: { 'If-None-Match': '$ETAG' } },
  { path: '/range.txt', headers: { 'If-None-Match': '"1", $ETAG' } },
  { path: '/range.txt', headers: { 'If-None-Match': 'W/$ETAG' } },
  { path: '/range.txt', headers: { 'If-None-Match': '*' } },
  { path: '/range.txt', headers: { 'If-None-Match': '"1"' } },
  { path: '/range.txt', headers: { 'If-None-Match': '$ETAG', Range: 'bytes=0-4' } },
  { path: '/range.txt', headers: { 'If-None-Match': 'W/$ETAG', Range: 'bytes=0-4' } },
  { path: '/range.txt', headers: { 'If-Modified-Since': '$LAST_MODIFIED' } },
  { path: '/range.txt', headers: { 'If-Modified-Since': 'Mon, 01 Jan 2001 00:00:00 GMT' } },
  { path: '/range.txt', headers: { 'If-Modified-Since': 'Fri, 01 Jan 2100 00:00:00 GMT' } },
  { path: '/range.txt', headers: { 'If-Modified-Since': 'garbage' } },
  { path: '/range.txt', headers: { 'If-None-Match': '"1"', 'If-Modified-Since': '$LAST_MODIFIED' } },
  { path: '/LICENSE', headers: { 'If-Modified-Since': 'Fri, 01 Jan 2100 00:00:00 GMT' } },
  { path: '/range.txt', method: 'HEAD', headers: { 'If-None-Match': '$ETAG' } },
  { path: '/range.txt', method: 'POST', headers: { 'If-None-Match': '$ETAG', 'Content-Length': '0' } },
  {
    path: '/range.txt',
    method: 'POST',
    headers: { 'If-Modified-Since': '$LAST_MODIFIED', 'Content-Length': '0' },
  },
  // methods
  { path: '/pic.jpg', method: 'HEAD' },
  { path: '/big.txt', method: 'HEAD' },
  { path: '/missing', method: 'HEAD' },
  { path: '/sub', method: 'HEAD' },
  { path: '/pic.jpg', method: 'POST', headers: { 'Content-Length': '0' } },
  { path: '/pic.jpg', method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: 'a=b' },
  { path: '/noindex/', method: 'POST', headers: { 'Content-Length': '0' } },
  { path: '/missing', method: 'POST', headers: { 'Content-Length': '0' } },
  { path: '/pic.jpg', method: 'PUT', headers: { 'Content-Length': '0' } },
  { path: '/missing', method: 'PUT', headers: { 'Content-Length': '0' } },
  { path: '/noindex/', method: 'DELETE' },
  { path: '/config.inc', method: 'DELETE' },
  { path: '/sub', method: 'PATCH', headers: { 'Content-Length': '0' } },
  { path: '/pic.jpg', method: 'PROPFIND' },
  { path: '/pic.jpg', method: 'OPTIONS' },
  { path: '/noindex/', method: 'OPTIONS' },
  { path: '/missing', method: 'OPTIONS' },
  { path: '/config.inc', method: 'OPTIONS' },
  { path: '/sub', method: 'OPTIONS' },
];

compareWithLighttpd('static', {
  prepare,
  lighttpdConf: (root) => `
server.document-root = "${root}"
server.modules = ("mod_access")
index-file.names = ("index.html")
${mimeConf}
url.access-deny = ${list(DENY)}
static-file.exclude-extensions = (".bak")
`,
  koaApp: (root) => koaStack(root, DENY, { indexFiles: ['index.html'], excludeExtensions: ['.bak'] }),
  requests,
});

compareWithLighttpd('disable-pathinfo, no symlinks, index names', {
  prepare,
  lighttpdConf: (root) => `
server.document-root = "${root}"
index-file.names = ("missing.html", "/sub/index.html", "page.txt")
${mimeConf}
static-file.disable-pathinfo = "enable"
server.follow-symlink = "disable"
`,
  koaApp: (root) =>
    koaStack(root, [], {
      indexFiles: ['missing.html', '/sub/index.html', 'page.txt'],
      disablePathInfo: true,
      followSymlink: false,
    }),
  requests: [
    { path: '/pic.jpg' },
    { path: '/pic.jpg/x' },
    { path: '/pic.jpg/' },
    { path: '/sub/page.txt/a/b' },
    { path: '/pic.jpg/x', method: 'HEAD' },
    { path: '/pic.jpg/x', method: 'POST', body: '' },
    { path: '/pic.jpg/x', method: 'PUT', body: '' },
    { path: '/pic.jpg/x', method: 'OPTIONS' },
    { path: '/' },
    { path: '/noindex/' },
    { path: '/sub/' },
    { path: '/link.txt' },
    { path: '/linkdir/' },
    { path: '/linkdir/page.txt' },
    { path: '/linkdir' },
    { path: '/linkdir/missing' },
    { path: '/link.txt/x' },
  ],
});

test('without lighttpd the comparison fails and says how to get it', async (t) => {
  await t.throwsAsync(startLighttpd('', { binary: '/nonexistent/lighttpd' }), {
    message: 'lighttpd is not installed: run npm test (it installs it)',
  });
});

test('a config lighttpd refuses fails with its message', async (t) => {
  const err = await t.throwsAsync(startLighttpd('server.document-root = "/tmp"\nno.such-option = ('));
  t.regex(err!.message, /lighttpd did not start/);
});
