import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { memoryLogger } from '../src/log.js';
import { secdownload } from '../src/middleware/secdownload.js';
import type { SecdownloadAlgorithm } from '../src/secdownload/algorithm.js';
import { createSigner } from '../src/secdownload/sign.js';
import { type SecdownloadUrlOptions, secdownloadUrl } from '../src/secdownload/url.js';
import { rawRequest } from './helpers/http.js';
import {
  AREA,
  areaFile,
  CANARY,
  PASSED_THROUGH,
  SECRET,
  serveSecdownload,
  T,
  T_SECONDS,
} from './secdownload-app.js';

type Served = Awaited<ReturnType<typeof serveSecdownload>>;

function link(path: string, options: Partial<SecdownloadUrlOptions> = {}): string {
  return secdownloadUrl({
    secret: SECRET,
    uriPrefix: '/dl/',
    algorithm: 'md5',
    path,
    timestamp: T_SECONDS,
    ...options,
  });
}

async function get(served: Served, target: string, init: RequestInit = {}) {
  const res = await fetch(served.url + target, { redirect: 'manual', ...init });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

async function app(
  t: { teardown(fn: () => unknown): void },
  options: Parameters<typeof serveSecdownload>[0] = {},
) {
  const served = await serveSecdownload(options);
  t.teardown(() => served.close());
  return served;
}

test('spec 2.3 vectors open the file, for all three algorithms', async (t) => {
  const vectors: Array<[SecdownloadAlgorithm, string]> = [
    ['md5', '40c91589f5c046ccac1c3c532d299071'],
    ['hmac-sha1', 'pO-yZiSKuX3p4unDfUDCzbIoGl4'],
    ['hmac-sha256', 'kxKPLwnfzhH5P1A0Z-aysgSFWOlLPp0vSvGF4e5uIZc'],
  ];
  for (const [algorithm, mac] of vectors) {
    const served = await app(t, { algorithm });
    const res = await get(served, `/dl/${mac}/${T}/a.txt`);
    t.is(res.status, 200, algorithm);
    t.deepEqual(res.body, areaFile('a.txt'));
    t.is(res.headers.get('content-type'), 'text/plain;charset=utf-8');
    t.truthy(res.headers.get('etag'));
    t.truthy(res.headers.get('last-modified'));
    // The same MAC on another file, or with another algorithm's length, does not.
    t.is((await get(served, `/dl/${mac}/${T}/secret-file.txt`)).status, 403);
  }
});

test('hash-querystr: the spec vectors with ?foo=bar; any other query is a wrong MAC', async (t) => {
  const sha256 = await app(t, { algorithm: 'hmac-sha256', hashQuerystr: true });
  const mac = 'UCtNvlq-JHYmwnajfhHLD8LRaBM8lfGBhslrS8P-V6w';
  t.is((await get(sha256, `/dl/${mac}/${T}/a.txt?foo=bar`)).status, 200);
  t.is((await get(sha256, `/dl/${mac}/${T}/a.txt?foo=baz`)).status, 403);
  t.is((await get(sha256, `/dl/${mac}/${T}/a.txt`)).status, 403);
  // The query is signed as the server normalises it: %62 is b.
  t.is((await get(sha256, `/dl/${mac}/${T}/a.txt?foo=%62ar`)).status, 200);
  // A link signed without a query is good with an empty one (lighttpd ignores a blank query).
  t.is((await get(sha256, `/dl/kxKPLwnfzhH5P1A0Z-aysgSFWOlLPp0vSvGF4e5uIZc/${T}/a.txt?`)).status, 200);

  const md5 = await app(t, { algorithm: 'md5', hashQuerystr: true });
  t.is((await get(md5, `/dl/5d2b7aa1f0ee4b690ba62a62d9dcea4d/${T}/a.txt?foo=bar`)).status, 200);
  t.is((await get(md5, `/dl/40c91589f5c046ccac1c3c532d299071/${T}/a.txt?foo=bar`)).status, 403);
});

test('without hash-querystr the query is ignored', async (t) => {
  const served = await app(t);
  const res = await get(served, `/dl/40c91589f5c046ccac1c3c532d299071/${T}/a.txt?anything=1`);
  t.is(res.status, 200);
  t.deepEqual(res.body, areaFile('a.txt'));
});

test('path-segments: the spec vector, and one link for the whole folder', async (t) => {
  const served = await app(t, { algorithm: 'hmac-sha256', pathSegments: 1 });
  const mac = 'j4-MqED6XBNRg08giNM8JdKxpPfbgaQ1pnqXP6bMRhA';
  const res = await get(served, `/dl/${mac}/${T}/dir/deep.txt`);
  t.is(res.status, 200);
  t.deepEqual(res.body, areaFile('dir/deep.txt'));
  t.is((await get(served, `/dl/${mac}/${T}/dir/missing.txt`)).status, 404);
  t.is((await get(served, `/dl/${mac}/${T}/other/deep.txt`)).status, 403);
});

test('410 outside the time window, past and future; the ±timeout boundary itself is accepted', async (t) => {
  const served = await app(t, { timeout: 10 });
  for (const [offset, status] of [
    [-11, 410],
    [-10, 200],
    [0, 200],
    [10, 200],
    [11, 410],
    [-3600, 410],
    [86400, 410],
  ] as const) {
    const res = await get(served, link('/a.txt', { timestamp: T_SECONDS + offset }));
    t.is(res.status, status, `offset ${offset}`);
  }
  const gone = await get(served, link('/a.txt', { timestamp: T_SECONDS - 11 }));
  t.is(gone.headers.get('content-type'), 'text/html');
  t.regex(gone.body.toString(), /<title>410 Gone<\/title>/);
});

test('the default timeout is 60 seconds', async (t) => {
  const served = await app(t);
  t.is((await get(served, link('/a.txt', { timestamp: T_SECONDS - 60 }))).status, 200);
  t.is((await get(served, link('/a.txt', { timestamp: T_SECONDS - 61 }))).status, 410);
});

test('expiry is checked before the MAC: expired with a bad MAC is 410, in time with a bad MAC 403', async (t) => {
  const served = await app(t, { timeout: 10 });
  const bad = 'ffffffffffffffffffffffffffffffff';
  t.is((await get(served, `/dl/${bad}/${(T_SECONDS - 11).toString(16)}/a.txt`)).status, 410);
  t.is((await get(served, `/dl/${bad}/${(T_SECONDS + 11).toString(16)}/a.txt`)).status, 410);
  const forbidden = await get(served, `/dl/${bad}/${T}/a.txt`);
  t.is(forbidden.status, 403);
  t.regex(forbidden.body.toString(), /<title>403 Forbidden<\/title>/);
  // Non-hex in an md5 MAC is a wrong MAC (403), not a malformed link.
  t.is((await get(served, `/dl/${'z'.repeat(32)}/${T}/a.txt`)).status, 403);
});

test('tampered links are 403: another file, another timestamp, one changed MAC character', async (t) => {
  const served = await app(t);
  const good = link('/a.txt');
  t.is((await get(served, good)).status, 200);
  t.is((await get(served, good.replace('/a.txt', '/secret-file.txt'))).status, 403);
  t.is((await get(served, good.replace(`/${T}/`, `/${(T_SECONDS + 1).toString(16)}/`))).status, 403);
  const flipped = good.replace(/^\/dl\/(.)/, (_m, c: string) => `/dl/${c === '0' ? '1' : '0'}`);
  t.is((await get(served, flipped)).status, 403);
});

test('md5: upper-case hex MACs and upper-case, zero-padded timestamps are accepted', async (t) => {
  const served = await app(t);
  t.is((await get(served, `/dl/40C91589F5C046CCAC1C3C532D299071/${T}/a.txt`)).status, 200);
  // The timestamp is signed as written: a 12-digit upper-case one has its own MAC.
  const wide = '00006B0CF5D4';
  const mac = createSigner(SECRET, 'md5').sign(wide, '/a.txt');
  t.is((await get(served, `/dl/${mac}/${wide}/a.txt`)).status, 200);
  t.is((await get(served, `/dl/${mac}/${T}/a.txt`)).status, 403);
});

test('malformed links and paths outside the prefix go on to the next middleware', async (t) => {
  const served = await app(t, { algorithm: 'hmac-sha256' });
  const mac = 'kxKPLwnfzhH5P1A0Z-aysgSFWOlLPp0vSvGF4e5uIZc';
  const passing = [
    `/dl/40c91589f5c046ccac1c3c532d299071/${T}/a.txt`, // an md5-length MAC on an hmac-sha256 site
    `/dl/${mac.slice(1)}/${T}/a.txt`,
    `/dl/${mac.slice(0, -1)}+/${T}/a.txt`,
    `/dl/${mac}/zz/a.txt`,
    `/dl/${mac}/${T}`,
    `/dl/${mac}//a.txt`,
    `/dl/${mac}/${'0'.repeat(17)}/a.txt`,
    `/dl/${mac}`,
    '/dl/',
    '/dl',
    `/DL/${mac}/${T}/a.txt`, // the prefix is case-sensitive
    `/elsewhere/${mac}/${T}/a.txt`,
    '/a.txt',
  ];
  for (const target of passing) {
    const res = await get(served, target);
    t.is(res.status, 404, target);
    t.is(res.body.toString(), PASSED_THROUGH, target);
  }
});

test('.., %2e%2e and %2f are resolved before parsing and never reach outside documentRoot', async (t) => {
  const served = await app(t);
  // A link to /a.txt still opens when the path takes a detour (spec 2.4, seen on lighttpd).
  const [, mac] = /^\/dl\/([^/]+)\//.exec(link('/a.txt'))!;
  for (const detour of ['/dir/../a.txt', '/dir/%2e%2e/a.txt', '/dir/%2E%2e%2fa.txt', '/./a.txt', '//a.txt']) {
    const res = await rawRequest(served.port, `/dl/${mac}/${T}${detour}`);
    t.is(res.status, 200, detour);
    t.deepEqual(res.body, areaFile('a.txt'));
  }
  // Links signed over the escape, literal or normalised, in every spelling.
  const escapes = [
    '/../outside/canary.txt',
    '/../../outside/canary.txt',
    '/outside/canary.txt',
    '/dir/../../outside/canary.txt',
  ];
  const spellings = (p: string) => [
    p,
    p.replaceAll('..', '%2e%2e'),
    p.replaceAll('..', '%2E%2E'),
    p.replaceAll('/', '%2f').replace(/^%2f/, '/'),
    p.replaceAll('../', '..%2f'),
    p.replaceAll('../', '%2e%2e%2f'),
    p.replaceAll('/', '%252f').replace(/^%252f/, '/'),
  ];
  for (const signedOver of escapes) {
    const mac = createSigner(SECRET, 'md5').sign(T, signedOver);
    for (const spelled of spellings(signedOver)) {
      for (const prefixPart of [`/dl/${mac}/${T}`, `/dl/${mac}/${T}/dir`]) {
        const res = await rawRequest(served.port, prefixPart + spelled);
        t.false(res.body.includes(CANARY), `${prefixPart + spelled} served the canary`);
        t.not(res.status, 200, prefixPart + spelled);
        t.true([400, 403, 404].includes(res.status), `${prefixPart + spelled}: ${res.status}`);
      }
    }
  }
});

test('symlinks leading out of documentRoot are refused (403); those staying inside work', async (t) => {
  const served = await app(t);
  for (const path of ['/outside-link.txt', '/outside-dir/canary.txt', '/outside-dir/canary.txt/path-info']) {
    const res = await get(served, link(path));
    t.is(res.status, 403, path);
    t.false(res.body.includes(CANARY));
  }
  t.true(served.log.lines.some((line) => line.includes('symlink leads out of the document root')));
  const inside = await get(served, link('/inside-link.txt'));
  t.is(inside.status, 200);
  t.deepEqual(inside.body, areaFile('a.txt'));
});

test('followSymlink: false refuses even symlinks inside the area', async (t) => {
  const served = await app(t, { followSymlink: false });
  t.is((await get(served, link('/inside-link.txt'))).status, 403);
  t.is((await get(served, link('/outside-link.txt'))).status, 403);
  t.is((await get(served, link('/a.txt'))).status, 200);
});

test('a documentRoot reached through a symlink works, and still confines', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'koa-lighty-secdownload-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const root = join(dir, 'downloads');
  symlinkSync(AREA, root);
  const served = await app(t, { documentRoot: `${root}/` });
  t.deepEqual((await get(served, link('/dir/deep.txt'))).body, areaFile('dir/deep.txt'));
  t.is((await get(served, link('/inside-link.txt'))).status, 200);
  t.is((await get(served, link('/outside-link.txt'))).status, 403);
});

test('missing files are 404, directories 301 without the slash and 403 with it', async (t) => {
  const served = await app(t);
  t.is((await get(served, link('/missing.txt'))).status, 404);
  t.is((await get(served, link('/dir/missing/deeper.txt'))).status, 404);
  const toDir = link('/dir');
  const redirect = await rawRequest(served.port, `${toDir}?x=1`);
  t.is(redirect.status, 301);
  t.is(redirect.headers['location'], `${toDir}/?x=1`);
  t.is(redirect.headers['content-length'], '0');
  // The MAC was for /dir, so the redirected URL fails, as on lighttpd.
  t.is((await get(served, `${toDir}/`)).status, 403);
  t.is((await get(served, link('/dir/'))).status, 403);
  t.is((await get(served, link('/'))).status, 403);
});

test('path-info after a file is allowed; file names are decoded', async (t) => {
  const served = await app(t);
  const res = await get(served, link('/a.txt/more/path'));
  t.is(res.status, 200);
  t.deepEqual(res.body, areaFile('a.txt'));
  const spaced = await get(served, link('/my file ü.txt'));
  t.is(spaced.status, 200);
  t.deepEqual(spaced.body, areaFile('my file ü.txt'));
});

test('served like a static file: Range, 304, HEAD, octet-stream without validators', async (t) => {
  const served = await app(t);
  const target = link('/a.txt');
  const full = await get(served, target);
  const etag = full.headers.get('etag')!;
  t.is(full.headers.get('accept-ranges'), 'bytes');

  const range = await get(served, target, { headers: { Range: 'bytes=0-3' } });
  t.is(range.status, 206);
  t.is(range.headers.get('content-range'), `bytes 0-3/${areaFile('a.txt').length}`);
  t.deepEqual(range.body, areaFile('a.txt').subarray(0, 4));

  const notModified = await get(served, target, { headers: { 'If-None-Match': etag } });
  t.is(notModified.status, 304);
  t.is(notModified.body.length, 0);
  t.is(notModified.headers.get('etag'), etag);
  const since = await get(served, target, {
    headers: { 'If-Modified-Since': full.headers.get('last-modified')! },
  });
  t.is(since.status, 304);

  const head = await get(served, target, { method: 'HEAD' });
  t.is(head.status, 200);
  t.is(head.headers.get('content-length'), String(areaFile('a.txt').length));
  t.is(head.body.length, 0);

  const bin = await get(served, link('/data.bin'));
  t.is(bin.status, 200);
  t.is(bin.headers.get('content-type'), 'application/octet-stream');
  t.is(bin.headers.get('etag'), null);
  t.is(bin.headers.get('last-modified'), null);
});

test('mimeTypes: an assign list of its own', async (t) => {
  const served = await app(t, { mimeTypes: [['.bin', 'application/x-koa-lighty-test']] });
  const bin = await get(served, link('/data.bin'));
  t.is(bin.headers.get('content-type'), 'application/x-koa-lighty-test');
  t.truthy(bin.headers.get('etag'));
});

test('methods: POST is served like GET, others get 501 (mod_staticfile), after the link checks', async (t) => {
  const served = await app(t);
  t.is((await get(served, link('/a.txt'), { method: 'POST' })).status, 200);
  t.is((await get(served, link('/a.txt'), { method: 'PUT' })).status, 501);
  t.is((await get(served, link('/b.txt'), { method: 'PUT' })).status, 404);
  t.is((await get(served, `/dl/${'0'.repeat(32)}/${T}/a.txt`, { method: 'PUT' })).status, 403);
});

test('a bad MAC is logged without the MAC that would have been right', async (t) => {
  const served = await app(t, { algorithm: 'hmac-sha256' });
  const good = link('/a.txt', { algorithm: 'hmac-sha256' });
  const expected = good.split('/')[2]!;
  const bad = good.replace(expected, 'A'.repeat(43));
  t.is((await get(served, bad)).status, 403);
  t.is((await get(served, link('/a.txt', { algorithm: 'hmac-sha256', timestamp: 1 }))).status, 410);
  t.true(served.log.lines.some((line) => line.includes('mac invalid')));
  t.true(served.log.lines.some((line) => line.includes('expired')));
  t.false(served.log.lines.some((line) => line.includes(expected)));
  t.deepEqual(served.errors, []);
});

test('construction: missing options are named, bad values refused, no algorithm means md5 and one warning', (t) => {
  const base = {
    secret: SECRET,
    documentRoot: AREA,
    uriPrefix: '/dl/',
    algorithm: 'md5' as const,
    log: memoryLogger(),
  };
  t.throws(() => secdownload({ ...base, secret: '' }), { message: /missing secret \(secdownload\.secret\)/ });
  t.throws(() => secdownload({ ...base, documentRoot: undefined as never }), {
    message: /missing documentRoot/,
  });
  t.throws(() => secdownload({ ...base, uriPrefix: '' }), { message: /missing uriPrefix/ });
  t.throws(() => secdownload({ log: base.log } as never), {
    message:
      'secdownload: missing secret (secdownload.secret), documentRoot (secdownload.document-root), uriPrefix (secdownload.uri-prefix)',
  });
  t.throws(() => secdownload({ ...base, algorithm: '' as never }), {
    message: /invalid secdownload algorithm ""/,
  });
  t.throws(() => secdownload({ ...base, algorithm: 'sha256' as never }), {
    message: /md5, hmac-sha1, hmac-sha256/,
  });
  t.throws(() => secdownload({ ...base, timeout: -1 }), { message: /timeout/ });
  t.throws(() => secdownload({ ...base, timeout: 1.5 }), { message: /timeout/ });
  t.throws(() => secdownload({ ...base, pathSegments: 65536 }), { message: /pathSegments/ });

  const log = memoryLogger();
  secdownload({ ...base, algorithm: undefined, log });
  t.is(log.lines.length, 1);
  t.regex(log.lines[0]!, /warning: secdownload\.algorithm is not set: using md5/);
  const quiet = memoryLogger();
  secdownload({ ...base, log: quiet });
  t.deepEqual(quiet.lines, []);
});

test('without an algorithm the wiki config (md5) works', async (t) => {
  const served = await app(t, { algorithm: undefined });
  t.is((await get(served, '/dl/40c91589f5c046ccac1c3c532d299071/6b0cf5d4/a.txt')).status, 200);
  t.is(served.log.lines.filter((line) => line.includes('warning')).length, 1);
});

test('a request-target the normaliser refuses becomes the 400 of the application', async (t) => {
  const served = await app(t);
  t.is((await rawRequest(served.port, `/dl/${'0'.repeat(32)}/${T}/a%00.txt`)).status, 400);
  t.is((await rawRequest(served.port, `/dl/${'0'.repeat(32)}/${T}/%ff.txt`)).status, 400);
});
