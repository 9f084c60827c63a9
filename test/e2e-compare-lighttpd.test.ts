/**
 * The same lighttpd.conf under Debian's lighttpd 1.4.69 and under `koa-lighty -f`: for every
 * request below both servers must give the same status, Content-Type, Content-Length and body
 * (and ETag/Last-Modified for static files: same files, same inodes; Location for redirects,
 * Content-Range for ranges). Both spawn their own php-cgi from fastcgi.server's bin-path, each
 * on its own socket. lighttpd is the oracle: where they differ, the assertion is lighttpd's
 * answer, except for the deliberate differences of design.md section 7, asserted as such.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { type RawResponse, rawExchange } from './helpers/http.js';
import { PACKAGE_ROOT, type RunningKoaLighty, startKoaLighty } from './helpers/koa-lighty.js';
import { type RunningLighttpd, startLighttpd } from './helpers/lighttpd.js';

const E2E = join(PACKAGE_ROOT, 'fixtures', 'conf', 'e2e');

/** The wrapper both servers read: the site config itself is one file, included unchanged. */
function wrapper(site: string, sockdir: string): string {
  return [`var.e2e = "${E2E}"`, `var.sockdir = "${sockdir}"`, `include "${join(E2E, site)}"`, ''].join('\n');
}

const lighttpdSockets = mkdtempSync(join(tmpdir(), 'koa-lighty-cmp-l-'));
const koaSockets = mkdtempSync(join(tmpdir(), 'koa-lighty-cmp-k-'));
let lighttpd: RunningLighttpd | undefined;
let koa: RunningKoaLighty | undefined;

test.before(async () => {
  [lighttpd, koa] = await Promise.all([
    startLighttpd(wrapper('php.conf', lighttpdSockets)),
    startKoaLighty({
      conf: `${wrapper('php.conf', koaSockets)}server.port = PORT\nserver.bind = "127.0.0.1"\n`,
    }),
  ]);
});

test.after.always(async () => {
  await Promise.allSettled([koa?.stop(), lighttpd?.stop()]);
  rmSync(lighttpdSockets, { recursive: true, force: true });
  rmSync(koaSockets, { recursive: true, force: true });
});

interface Req {
  path: string;
  method?: string;
  /** Header values are latin1: '\xff' is the byte 0xFF. `$ETAG`/`$LAST_MODIFIED`: lighttpd's validators of path. */
  headers?: Record<string, string>;
  body?: string;
  /** Also compare ETag and Last-Modified (static files). */
  validators?: boolean;
}

function send(port: number, r: Req, headers: Record<string, string>): Promise<RawResponse> {
  const lines = [`${r.method ?? 'GET'} ${r.path} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
  const all =
    r.body === undefined ? headers : { ...headers, 'Content-Length': String(Buffer.byteLength(r.body)) };
  for (const [name, value] of Object.entries(all)) lines.push(`${name}: ${value}`);
  return rawExchange(port, Buffer.from(`${lines.join('\r\n')}\r\n\r\n${r.body ?? ''}`, 'latin1'));
}

async function resolveValidators(r: Req): Promise<Record<string, string>> {
  const headers = r.headers ?? {};
  if (!Object.values(headers).some((v) => v.includes('$'))) return headers;
  const file = await send(lighttpd!.port, { path: r.path }, {});
  return Object.fromEntries(
    Object.entries(headers).map(([k, v]) => [
      k,
      v
        .replace('$ETAG', file.headers['etag'] ?? '')
        .replace('$LAST_MODIFIED', file.headers['last-modified'] ?? ''),
    ]),
  );
}

/** What a user sees of a response, for the comparison. */
function seen(response: RawResponse, r: Req) {
  const h = response.headers;
  const view: Record<string, string | number | undefined> = {
    status: response.status,
    'content-type': h['content-type'],
    'content-length': h['content-length'],
    location: h['location'],
    'content-range': h['content-range'],
    body: response.body.toString('latin1'),
  };
  if (r.validators) {
    view['etag'] = h['etag'];
    view['last-modified'] = h['last-modified'];
  }
  return view;
}

async function both(r: Req): Promise<{ lighttpd: RawResponse; koa: RawResponse }> {
  const headers = await resolveValidators(r);
  const [l, k] = await Promise.all([send(lighttpd!.port, r, headers), send(koa!.port, r, headers)]);
  return { lighttpd: l, koa: k };
}

const evil = { Referer: 'http://evil.example/' };
const requests: Req[] = [
  // static files, index, directory redirect, missing, path-info
  { path: '/index.html', validators: true },
  { path: '/', validators: true },
  { path: '/sub', validators: true },
  { path: '/sub?x=1', validators: true },
  { path: '/sub/page.txt', validators: true },
  { path: '/noindex/' },
  { path: '/missing.html' },
  { path: '/missing/deeper/x.txt' },
  { path: '/pic.jpg/extra/info', validators: true },
  { path: '/range.txt/', validators: true },
  { path: '/Settings.INC', validators: true },
  { path: '/index.html', method: 'HEAD', validators: true },
  { path: '/index.html', method: 'DELETE' },
  // access-denied (spec 5.1)
  { path: '/config.inc' },
  { path: '/config.inc/' },
  { path: '/config.inc?x=1' },
  { path: '/config%2einc' },
  { path: '/nothing-here.inc' },
  { path: '/notes.txt~' },
  { path: '/config.inc', method: 'POST', body: 'a=1' },
  { path: '/sub/' },
  { path: '/sub/x.inc' },
  { path: '/allow/' },
  { path: '/allow/index.html', validators: true },
  { path: '/allow/page.txt' },
  { path: '/allow/secret.inc', validators: true },
  // hotlink referers (spec 5.2)
  { path: '/pic.jpg', validators: true },
  { path: '/pic.jpg', headers: { Referer: '' }, validators: true },
  { path: '/pic.jpg', headers: { Referer: 'http://www.example.org/page' }, validators: true },
  { path: '/pic.jpg', headers: { Referer: 'http://www.example.org.evil.com/' }, validators: true },
  { path: '/pic.jpg', headers: { Referer: 'https://www.example.org/' } },
  { path: '/pic.jpg', headers: evil },
  { path: '/pic.jpg', headers: { Referer: 'http://www.example.org/\xff' } },
  { path: '/pic.jpg/x', headers: evil },
  { path: '/logo.png', headers: evil },
  { path: '/index.html', headers: evil, validators: true },
  // Range and conditionals
  { path: '/range.txt', headers: { Range: 'bytes=0-4' }, validators: true },
  { path: '/range.txt', headers: { Range: 'bytes=0-1,5-6' }, validators: true },
  { path: '/range.txt', headers: { Range: 'bytes=0-1,20-25' }, validators: true },
  { path: '/range.txt', headers: { Range: 'bytes=-5' }, validators: true },
  { path: '/range.txt', headers: { Range: 'bytes=100-' } },
  { path: '/range.txt', headers: { Range: 'bytes=0-4', 'If-Range': '"not-the-etag"' }, validators: true },
  { path: '/range.txt', headers: { 'If-None-Match': '$ETAG' }, validators: true },
  { path: '/range.txt', headers: { 'If-None-Match': '"other", $ETAG' }, validators: true },
  { path: '/range.txt', headers: { 'If-None-Match': '"other"' }, validators: true },
  { path: '/range.txt', headers: { 'If-Modified-Since': '$LAST_MODIFIED' }, validators: true },
  { path: '/range.txt', method: 'HEAD', headers: { 'If-None-Match': '$ETAG' }, validators: true },
  // .., %2e%2e, %00 and friends
  { path: '/sub/../config.inc' },
  { path: '/sub/%2e%2e/config.inc' },
  { path: '/sub/%2e%2e/index.html', validators: true },
  { path: '/../../../etc/passwd' },
  { path: '/%2e%2e/%2e%2e/etc/passwd' },
  { path: '/..%2f..%2fetc/passwd' },
  { path: '/index.html%00' },
  { path: '/index.html%00.txt' },
  { path: '//sub//page.txt', validators: true },
  { path: '/%73ub/page.txt', validators: true },
  // PHP through fastcgi.server with bin-path php-cgi
  { path: '/app/echo.php?a=1&b=x%41&c=%20d' },
  {
    path: '/app/echo.php',
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: 'x=1&y=two+words',
  },
  { path: '/app/echo.php/extra/path.txt?q=1' },
  { path: '/app/echo.php', method: 'HEAD' },
  { path: '/app/notfound.php' },
  { path: '/app/redirect.php' },
  { path: '/app/nosuch.php' },
  { path: '/app/nosuch.php/x' },
  { path: '/app/' },
  { path: '/app/send.php?f=report' },
  { path: '/app/send.php?f=outside' },
  { path: '/app/send.php?f=missing' },
  { path: '/app/send.php?f=report', method: 'HEAD' },
  { path: '/app/send.php?f=report', headers: { Range: 'bytes=0-9' } },
  { path: '/app/echo.php?r=1', headers: { Range: 'bytes=0-9' } },
  { path: '/app/plain/sendfile2.php' },
];

for (const r of requests) {
  const title = `${r.method ?? 'GET'} ${r.path}${r.headers ? ` ${JSON.stringify(r.headers)}` : ''}${r.body ? ' +body' : ''}`;
  test(`same answer as lighttpd 1.4.69: ${title}`, async (t) => {
    const answers = await both(r);
    t.deepEqual(seen(answers.koa, r), seen(answers.lighttpd, r));
  });
}

test('no X-LIGHTTPD-* header reaches the client from either server', async (t) => {
  for (const path of ['/app/send.php?f=report', '/app/send.php?f=outside', '/app/send.php?f=missing']) {
    const answers = await both({ path });
    for (const [name, response] of Object.entries(answers)) {
      const leaked = response.headerLines.filter((line) => /^x-(lighttpd-|sendfile)/i.test(line));
      t.deepEqual(leaked, [], `${name} ${path}`);
    }
  }
});

test('complete 200 PHP responses carry Accept-Ranges: bytes, as lighttpd sends them (spec 1.4)', async (t) => {
  for (const path of ['/app/echo.php?a=1', '/app/send.php?f=report']) {
    const answers = await both({ path });
    t.is(answers.lighttpd.headers['accept-ranges'], 'bytes', `lighttpd ${path}`);
    t.is(
      answers.koa.headers['accept-ranges'],
      answers.lighttpd.headers['accept-ranges'],
      `koa-lighty ${path}`,
    );
  }
});

test('the lighttpd-style error page is byte for byte the same (403, 404, 400)', async (t) => {
  for (const path of ['/config.inc', '/missing.html', '/index.html%00']) {
    const answers = await both({ path });
    t.is(answers.koa.body.toString('latin1'), answers.lighttpd.body.toString('latin1'), path);
    t.true(
      answers.lighttpd.body.toString('latin1').startsWith('<?xml version="1.0" encoding="iso-8859-1"?>'),
    );
  }
});

test('deliberate difference (design.md 7): X-Sendfile2 from a backend without send-file leaks from lighttpd, not from koa-lighty', async (t) => {
  const answers = await both({ path: '/app/plain/sendfile2.php' });
  t.is(answers.lighttpd.status, 200);
  t.regex(answers.lighttpd.headers['x-sendfile2'] ?? '', /report\.txt 0-3$/);
  t.is(answers.koa.status, 200);
  t.false('x-sendfile2' in answers.koa.headers, 'X-Sendfile2 removed');
  t.is(answers.koa.body.toString(), 'PHP BODY from a backend without send-file\n');
});
