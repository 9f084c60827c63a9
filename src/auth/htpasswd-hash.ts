import { createHash, timingSafeEqual } from 'node:crypto';
import { createRequire } from 'node:module';
import bcrypt from 'bcryptjs';
import { verify as verifyShaCrypt } from 'unixcrypt';
import { decodeBase64Like } from './base64.js';

// Both are CommonJS functions: apache-md5's typings claim a default export it does not have,
// unix-crypt-td-js has none.
const require = createRequire(import.meta.url);
const aprMd5 = require('apache-md5') as (password: string, salt: string) => string;
const unixCrypt = require('unix-crypt-td-js') as (password: number[], salt: string) => string;

/**
 * Checks a password against one htpasswd hash, for every format lighttpd 1.4.69 accepts on
 * Debian (mod_authn_file: `{SHA}` and `$apr1$` itself, everything else through glibc's
 * crypt(3), which is libxcrypt there):
 *
 * | format | how |
 * | --- | --- |
 * | `{SHA}` + base64 SHA-1 (htpasswd -s) | node:crypto |
 * | `$apr1$` (htpasswd -m, its default) and `$1$` MD5-crypt | apache-md5 |
 * | `$2y$`, `$2b$`, `$2a$` bcrypt (htpasswd -B) | bcryptjs, off the event loop's critical path (async) |
 * | `$5$`, `$6$` SHA-crypt (htpasswd -2 / -5, mkpasswd) | unixcrypt |
 * | 13-character DES crypt (htpasswd -d) | unix-crypt-td-js |
 *
 * The other libxcrypt formats (yescrypt `$y$`, `$gy$`, scrypt `$7$`, `$2x$`, `$sha1$`, Sun
 * `$md5`, NT `$3$`, BSDi `_`) have no maintained JavaScript implementation: such a user is
 * refused (never let in) and the reason logged. Costs far above what htpasswd writes are
 * refused too, as one login would hold the process for minutes: bcrypt above 17 (htpasswd's
 * own maximum), SHA-crypt above 1,000,000 rounds.
 *
 * The password is the bytes the client sent, cut at the first NUL as lighttpd's C string is.
 */
export type HashCheck = { match: boolean; unsupported?: undefined } | { match: false; unsupported: string };

const MISMATCH: HashCheck = { match: false };
const MAX_BCRYPT_COST = 17;
const MAX_SHA_CRYPT_ROUNDS = 1_000_000;
const CRYPT64 = '[./0-9A-Za-z]';
const DES = new RegExp(`^${CRYPT64}{13}$`);
const MD5_CRYPT = /^\$(apr1|1)\$([^$]{0,8})\$/;
const BCRYPT = /^\$2[aby]\$(\d\d)\$/;
const SHA_CRYPT = /^\$[56]\$(?:rounds=(\d+)\$)?/;
const UNSUPPORTED: Array<[RegExp, string]> = [
  [/^\$y\$/, 'yescrypt ($y$)'],
  [/^\$gy\$/, 'gost-yescrypt ($gy$)'],
  [/^\$7\$/, 'scrypt ($7$)'],
  [/^\$2x\$/, 'bcrypt $2x$'],
  [/^\$sha1\$/, 'SHA-1 crypt ($sha1$)'],
  [/^\$md5[$,]/, 'Sun MD5 crypt ($md5$)'],
  [/^\$3\$/, 'NT hash ($3$)'],
  [/^\$1\+ntlm\$/, 'MD5-NTLM crypt ($1+ntlm$)'],
  [/^_/, 'BSDi extended DES (_)'],
];

/** What a stored hash is, for start-up warnings: undefined for a format checked here. */
export function unsupportedFormat(hash: string): string | undefined {
  for (const [pattern, name] of UNSUPPORTED) if (pattern.test(hash)) return name;
  const bcryptCost = BCRYPT.exec(hash)?.[1];
  if (bcryptCost && Number(bcryptCost) > MAX_BCRYPT_COST)
    return `bcrypt with cost ${Number(bcryptCost)} (above ${MAX_BCRYPT_COST})`;
  const rounds = SHA_CRYPT.exec(hash)?.[1];
  if (rounds && Number(rounds) > MAX_SHA_CRYPT_ROUNDS)
    return `SHA-crypt with ${rounds} rounds (above 1000000)`;
  return undefined;
}

/** Whether `hash` is traditional DES crypt, whose passwords count only up to 8 characters. */
export function isDesCrypt(hash: string): boolean {
  return DES.test(hash);
}

/** `hash` as stored (latin1 byte string, without the trailing `\r`); `password` as sent. */
export async function checkHtpasswdHash(hash: string, sent: Buffer): Promise<HashCheck> {
  const nul = sent.indexOf(0);
  const password = nul >= 0 ? sent.subarray(0, nul) : sent;
  if (hash.startsWith('{SHA}')) {
    const stored = decodeBase64Like(hash.slice(5));
    if (stored?.length !== 20) return MISMATCH;
    return { match: timingSafeEqual(createHash('sha1').update(password).digest(), stored) };
  }
  const unsupported = unsupportedFormat(hash);
  if (unsupported) return { match: false, unsupported };
  const md5 = MD5_CRYPT.exec(hash);
  if (md5) {
    // apache-md5 takes one character per byte (it hashes its strings as latin1).
    return equal(aprMd5(password.toString('latin1'), `$${md5[1]}$${md5[2]}$`), hash);
  }
  // lighttpd hands everything else of 13 characters or more to crypt(3).
  if (hash.length < 13) return MISMATCH;
  if (BCRYPT.test(hash)) {
    const text = utf8Text(password);
    // bcryptjs hashes the UTF-8 of a string: a password that is not UTF-8 cannot be given to it.
    if (text === undefined) return MISMATCH;
    try {
      return { match: await bcrypt.compare(text, hash) };
    } catch {
      return MISMATCH;
    }
  }
  if (SHA_CRYPT.test(hash)) {
    try {
      return { match: verifyShaCrypt(password as unknown as string, hash) };
    } catch {
      // A salt or length crypt(3) would refuse too.
      return MISMATCH;
    }
  }
  if (isDesCrypt(hash)) return equal(unixCrypt([...password], hash.slice(0, 2)), hash);
  return MISMATCH;
}

function equal(computed: string, stored: string): HashCheck {
  const a = Buffer.from(computed, 'latin1');
  const b = Buffer.from(stored, 'latin1');
  return { match: a.length === b.length && timingSafeEqual(a, b) };
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function utf8Text(bytes: Buffer): string | undefined {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}
