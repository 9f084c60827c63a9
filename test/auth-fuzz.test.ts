/**
 * Authorization headers made up at random (seeded: the same run every time) against a Basic
 * and a Digest area, on koa-lighty and lighttpd 1.4.69 with the same config: never a 5xx, the
 * server still answers afterwards, and each header gets the status lighttpd gives it.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { DIGEST_PARAMS } from '../src/auth/digest-params.js';
import { digestAuthorization, nonceAt } from './helpers/digest.js';
import { rawRequest } from './helpers/http.js';
import { type BothServers, startBoth } from './helpers/same-conf.js';

const root = mkdtempSync(join(tmpdir(), 'koa-lighty-auth-fuzz-'));
const www = join(root, 'www');
for (const dir of ['basic', 'digest']) {
  mkdirSync(join(www, dir), { recursive: true });
  writeFileSync(join(www, dir, 'a.txt'), 'ok\n');
}
writeFileSync(join(root, 'users'), 'jan:jan\nuser:pass:word\n');

let servers: BothServers;
test.before(async () => {
  servers = await startBoth(
    () => `
server.document-root = "${www}"
server.modules = ("mod_auth", "mod_authn_file")
mimetype.assign = (".txt" => "text/plain")
auth.backend = "plain"
auth.backend.plain.userfile = "${root}/users"
auth.require = (
  "/basic/" => ( "method" => "basic", "realm" => "B", "require" => "valid-user" ),
  "/digest/" => ( "method" => "digest", "realm" => "D", "require" => "user=jan", "algorithm" => "MD5|SHA-256" ),
)
`,
  );
});
test.after.always(async () => {
  await servers?.close();
  rmSync(root, { recursive: true, force: true });
});

/** A small seeded generator (mulberry32): the same headers on every run. */
function random(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  return { next, int, pick };
}

// Every parameter the parser knows, and names it must not take for them.
const NAMES = [...DIGEST_PARAMS, 'xnc', 'noncecount', ''];
const PIECES = [
  '"',
  '\\',
  ',',
  ' ',
  '\t',
  '=',
  ':',
  "'",
  '%',
  '%41',
  '%ff',
  'UTF-8',
  "utf-8''",
  'auth',
  'auth-int',
  'MD5',
  'md5-sess',
  'SHA-256',
  'true',
  'jan',
  'D',
  '/digest/a.txt',
  '\xe4',
  '\xff',
  'A'.repeat(300),
];
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/= \t-_!:\x80\xfe';

function basicHeader(r: ReturnType<typeof random>): string {
  const scheme = r.pick(['Basic ', 'basic ', 'BASIC ', 'Basic  ', 'Basic', 'Basi ', 'Bearer ']);
  if (r.next() < 0.4) {
    const user = r.pick(['jan', 'user', '', 'nobody', 'j\xe4n', 'jan\t']);
    const password = r.pick(['jan', 'pass:word', '', 'x'.repeat(r.int(1200)), 'j']);
    let b64 = Buffer.from(`${user}${r.next() < 0.9 ? ':' : ''}${password}`, 'latin1').toString('base64');
    if (r.next() < 0.3) b64 = b64.replace(/=+$/, '');
    if (r.next() < 0.2)
      b64 = `${b64.slice(0, r.int(b64.length + 1))}${r.pick(['=', '!', '\x80', ' ', '==x'])}${b64.slice(r.int(b64.length))}`;
    return scheme + b64;
  }
  let text = '';
  for (let i = r.int(40); i > 0; i--) text += B64[r.int(B64.length)];
  return scheme + text;
}

function digestHeader(r: ReturnType<typeof random>): string {
  if (r.next() < 0.3) {
    // A valid header, then a few random edits.
    let header = digestAuthorization({
      user: 'jan',
      password: r.pick(['jan', 'wrong']),
      uri: '/digest/a.txt',
      realm: 'D',
      nonce: nonceAt(Date.now() / 1000 - r.pick([5, 700, -3600])),
      algorithm: r.pick(['MD5', 'SHA-256', 'MD5-sess', 'SHA-256-sess']),
    });
    for (let i = r.int(3); i > 0; i--) {
      const at = r.int(header.length);
      header = header.slice(0, at) + r.pick(PIECES) + header.slice(at + r.int(4));
    }
    return header;
  }
  const parts: string[] = [];
  for (let i = r.int(12); i > 0; i--) {
    const name = r.pick(NAMES);
    const value = Array.from({ length: r.int(4) }, () => r.pick(PIECES)).join('');
    const quoted = r.next() < 0.5;
    parts.push(`${name}${r.pick(['=', ' = ', '', '=='])}${quoted ? `"${value}"` : value}`);
  }
  return `${r.pick(['Digest ', 'digest ', 'Digest', 'Digest  '])}${parts.join(r.pick([', ', ',', ' ', ',,']))}`;
}

test('random Authorization headers: no 5xx, the status lighttpd gives, and the server lives', async (t) => {
  const r = random(14);
  const mismatches: string[] = [];
  for (let i = 0; i < 400; i++) {
    const digest = i % 2 === 1;
    const header = digest ? digestHeader(r) : basicHeader(r);
    const path = digest ? '/digest/a.txt' : '/basic/a.txt';
    const [lighttpd, koa] = await servers.both(path, { Authorization: header });
    t.true(koa.status < 500, `${koa.status} for ${JSON.stringify(header)}`);
    if (koa.status !== lighttpd.status)
      mismatches.push(`${JSON.stringify(header)}: lighttpd ${lighttpd.status}, koa-lighty ${koa.status}`);
  }
  t.deepEqual(mismatches, []);
  const alive = await rawRequest(servers.koaPort, '/basic/a.txt', {
    Authorization: `Basic ${Buffer.from('jan:jan').toString('base64')}`,
  });
  t.is(alive.status, 200);
});
