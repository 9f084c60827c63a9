import test from 'ava';
import { MAC_LENGTH } from '../src/secdownload/algorithm.js';
import { parseSecdownloadLink } from '../src/secdownload/link.js';
import { createSigner, signedPath } from '../src/secdownload/sign.js';
import { formatTimestamp, roundDown } from '../src/secdownload/timestamp.js';
import { secdownloadUrl } from '../src/secdownload/url.js';

// spec 2.3: S = verysecret, T = 6b0cf5d4, R = /a.txt, verified against lighttpd.
const S = 'verysecret';
const T = '6b0cf5d4';

test('spec 2.3 test vectors: md5, hmac-sha1, hmac-sha256 over /a.txt', (t) => {
  t.is(createSigner(S, 'md5').sign(T, '/a.txt'), '40c91589f5c046ccac1c3c532d299071');
  t.is(createSigner(S, 'hmac-sha1').sign(T, '/a.txt'), 'pO-yZiSKuX3p4unDfUDCzbIoGl4');
  t.is(createSigner(S, 'hmac-sha256').sign(T, '/a.txt'), 'kxKPLwnfzhH5P1A0Z-aysgSFWOlLPp0vSvGF4e5uIZc');
});

test('spec 2.3 test vectors: hash-querystr and path-segments', (t) => {
  t.is(signedPath('/a.txt', 0, 'foo=bar'), '/a.txt?foo=bar');
  t.is(
    createSigner(S, 'hmac-sha256').sign(T, signedPath('/a.txt', 0, 'foo=bar')),
    'UCtNvlq-JHYmwnajfhHLD8LRaBM8lfGBhslrS8P-V6w',
  );
  t.is(
    createSigner(S, 'md5').sign(T, signedPath('/a.txt', 0, 'foo=bar')),
    '5d2b7aa1f0ee4b690ba62a62d9dcea4d',
  );
  t.is(signedPath('/dir/deep.txt', 1), '/dir');
  t.is(
    createSigner(S, 'hmac-sha256').sign(T, signedPath('/dir/deep.txt', 1)),
    'j4-MqED6XBNRg08giNM8JdKxpPfbgaQ1pnqXP6bMRhA',
  );
});

test('MAC lengths match what the signers produce', (t) => {
  for (const algorithm of ['md5', 'hmac-sha1', 'hmac-sha256'] as const) {
    const signer = createSigner(S, algorithm);
    t.is(signer.sign(T, '/x').length, MAC_LENGTH[algorithm]);
    t.is(signer.macLength, MAC_LENGTH[algorithm]);
  }
});

test('signedPath cuts before the (N+1)-th slash, and leaves shorter paths alone', (t) => {
  t.is(signedPath('/a/b/c/d.txt', 1), '/a');
  t.is(signedPath('/a/b/c/d.txt', 2), '/a/b');
  t.is(signedPath('/a/b/c/d.txt', 3), '/a/b/c');
  t.is(signedPath('/a/b/c/d.txt', 4), '/a/b/c/d.txt');
  t.is(signedPath('/a/b/c/d.txt', 9), '/a/b/c/d.txt');
  t.is(signedPath('/dir/', 1), '/dir');
  t.is(signedPath('/', 1), '/');
  t.is(signedPath('/a/b', 1, 'q=1'), '/a?q=1');
  t.is(signedPath('/a/b', 0, ''), '/a/b');
});

test('verify: md5 accepts upper-case hex, refuses non-hex, wrong MACs and wrong timestamps', (t) => {
  const md5 = createSigner(S, 'md5');
  t.true(md5.verify('40c91589f5c046ccac1c3c532d299071', T, '/a.txt'));
  t.true(md5.verify('40C91589F5C046CCAC1C3C532D299071', T, '/a.txt'));
  t.false(md5.verify('40c91589f5c046ccac1c3c532d29907_', T, '/a.txt'));
  t.false(md5.verify('40c91589f5c046ccac1c3c532d299072', T, '/a.txt'));
  t.false(md5.verify('40c91589f5c046ccac1c3c532d299071', '6B0CF5D4', '/a.txt'));
  t.false(md5.verify('40c91589f5c046ccac1c3c532d299071', T, '/b.txt'));
});

test('verify: hmac MACs compare as exact text (no case folding, no other base64 spelling)', (t) => {
  const sha1 = createSigner(S, 'hmac-sha1');
  t.true(sha1.verify('pO-yZiSKuX3p4unDfUDCzbIoGl4', T, '/a.txt'));
  t.false(sha1.verify('PO-yZiSKuX3p4unDfUDCzbIoGl4', T, '/a.txt'));
  // `4` and `5` differ only in the unused low bits of the last character.
  t.false(sha1.verify('pO-yZiSKuX3p4unDfUDCzbIoGl5', T, '/a.txt'));
  const sha256 = createSigner(S, 'hmac-sha256');
  t.true(sha256.verify('kxKPLwnfzhH5P1A0Z-aysgSFWOlLPp0vSvGF4e5uIZc', T, '/a.txt'));
  t.false(sha256.verify('kxKPLwnfzhH5P1A0Z-aysgSFWOlLPp0vSvGF4e5uIZd', T, '/a.txt'));
  t.false(sha256.verify('kxKPLwnfzhH5P1A0Z-aysgSFWOlLPp0vSvGF4e5uIZ', T, '/a.txt'));
});

test('createSigner refuses an empty secret', (t) => {
  t.throws(() => createSigner('', 'md5'), { message: /secret/ });
});

test('parseSecdownloadLink: the layout of spec 2.2', (t) => {
  const mac = '40c91589f5c046ccac1c3c532d299071';
  t.deepEqual(parseSecdownloadLink(`/dl/${mac}/${T}/a.txt`, 4, 32), {
    mac,
    timestampHex: T,
    timestamp: 0x6b0cf5d4,
    relPath: '/a.txt',
  });
  t.is(parseSecdownloadLink(`/dl/${mac}/00006B0CF5D4/a.txt`, 4, 32)?.timestamp, 0x6b0cf5d4);
  t.is(parseSecdownloadLink(`/dl/${mac}/1/`, 4, 32)?.relPath, '/');
  t.is(parseSecdownloadLink(`/dl/${mac}/${'f'.repeat(16)}/x`, 4, 32)?.timestampHex, 'f'.repeat(16));
  const malformed = [
    `/dl/${mac.slice(1)}/${T}/a.txt`, // MAC too short
    `/dl/${mac}0/${T}/a.txt`, // too long
    `/dl/${mac.slice(1)}+/${T}/a.txt`, // not base64url
    `/dl/${mac}/${T}`, // no rel-path
    `/dl/${mac}//a.txt`, // no timestamp
    `/dl/${mac}/zz/a.txt`, // not hex
    `/dl/${mac}/${T}x/a.txt`,
    `/dl/${mac}/${'f'.repeat(17)}/a.txt`, // 17 digits
    `/dl/${mac}`,
    '/dl/',
  ];
  for (const path of malformed) t.is(parseSecdownloadLink(path, 4, 32), undefined, path);
});

test('formatTimestamp writes %08x; roundDown makes multiples', (t) => {
  t.is(formatTimestamp(0x6b0cf5d4), '6b0cf5d4');
  t.is(formatTimestamp(255), '000000ff');
  t.is(formatTimestamp(0x1_0000_0000), '100000000');
  t.throws(() => formatTimestamp(-1));
  t.throws(() => formatTimestamp(1.5));
  t.is(roundDown(1000, 300), 900);
  t.is(roundDown(900, 300), 900);
  t.throws(() => roundDown(1000, 0));
});

test('secdownloadUrl reproduces the spec vectors', (t) => {
  const base = { secret: S, uriPrefix: '/dl/', path: '/a.txt', timestamp: 0x6b0cf5d4 };
  t.is(secdownloadUrl({ ...base, algorithm: 'md5' }), `/dl/40c91589f5c046ccac1c3c532d299071/${T}/a.txt`);
  t.is(secdownloadUrl({ ...base, algorithm: 'hmac-sha1' }), `/dl/pO-yZiSKuX3p4unDfUDCzbIoGl4/${T}/a.txt`);
  t.is(
    secdownloadUrl({ ...base, algorithm: 'hmac-sha256', query: 'foo=bar' }),
    `/dl/UCtNvlq-JHYmwnajfhHLD8LRaBM8lfGBhslrS8P-V6w/${T}/a.txt?foo=bar`,
  );
  t.is(
    secdownloadUrl({ ...base, algorithm: 'hmac-sha256', path: '/dir/deep.txt', pathSegments: 1 }),
    `/dl/j4-MqED6XBNRg08giNM8JdKxpPfbgaQ1pnqXP6bMRhA/${T}/dir/deep.txt`,
  );
});

test('secdownloadUrl: the clock, and granularity rounding it down', (t) => {
  const base = { secret: S, uriPrefix: '/dl/', path: '/a.txt', algorithm: 'md5' as const };
  t.is(
    secdownloadUrl({ ...base, now: () => 0x6b0cf5d4 * 1000 + 999 }),
    secdownloadUrl({ ...base, timestamp: 0x6b0cf5d4 }),
  );
  const at = (seconds: number) => secdownloadUrl({ ...base, granularity: 300, now: () => seconds * 1000 });
  t.regex(at(1000), /\/00000384\/a\.txt$/); // 900
  t.is(at(900), at(1199));
  t.not(at(1199), at(1200));
  t.regex(secdownloadUrl({ ...base, timestamp: 1000, granularity: 300 }), /\/00000384\//);
});

test('secdownloadUrl signs what the server will see and encodes what the URL needs', (t) => {
  const base = { secret: S, uriPrefix: '/dl/', algorithm: 'hmac-sha256' as const, timestamp: 0x6b0cf5d4 };
  const sha256 = createSigner(S, 'hmac-sha256');
  t.is(
    secdownloadUrl({ ...base, path: '/my file ü.txt' }),
    `/dl/${sha256.sign(T, '/my file ü.txt')}/${T}/my%20file%20%C3%BC.txt`,
  );
  // A literal % is part of the name, dot-segments are what the server resolves them to.
  t.is(secdownloadUrl({ ...base, path: '/100%.txt' }), `/dl/${sha256.sign(T, '/100%.txt')}/${T}/100%25.txt`);
  t.is(secdownloadUrl({ ...base, path: '/dir/../a.txt' }), secdownloadUrl({ ...base, path: '/a.txt' }));
  // The query is normalised like the server does (unreserved %XX decoded) and encoded where needed.
  t.is(
    secdownloadUrl({ ...base, path: '/a.txt', query: '?x=%41&y=a b' }),
    `/dl/${sha256.sign(T, '/a.txt?x=A&y=a%20b')}/${T}/a.txt?x=A&y=a%20b`,
  );
});

test('secdownloadUrl refuses what cannot make a working link', (t) => {
  const base = { secret: S, uriPrefix: '/dl/', algorithm: 'md5' as const, path: '/a.txt' };
  t.throws(() => secdownloadUrl({ ...base, secret: '' }), { message: /secret/ });
  t.throws(() => secdownloadUrl({ ...base, uriPrefix: '' }), { message: /uriPrefix/ });
  t.throws(() => secdownloadUrl({ ...base, path: 'a.txt' }), { message: /start with \// });
  t.throws(() => secdownloadUrl({ ...base, path: '/a\n.txt' }), { message: /control/ });
  t.throws(() => secdownloadUrl({ ...base, algorithm: 'sha1' as never }), {
    message: /invalid secdownload algorithm/,
  });
  t.throws(() => secdownloadUrl({ ...base, pathSegments: -1 }), { message: /pathSegments/ });
  t.throws(() => secdownloadUrl({ ...base, granularity: 0 }), { message: /granularity/ });
  t.throws(() => secdownloadUrl({ ...base, timestamp: -5 }), { message: /timestamp/ });
});
