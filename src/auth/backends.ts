import { createHash, timingSafeEqual } from 'node:crypto';
import type { Logger } from '../log.js';
import { digestLength, digestOf, SESS, SHA256, SHA512_256 } from './digest-algorithm.js';
import { checkHtpasswdHash } from './htpasswd-hash.js';
import { UserFile, type UserFileLine, withoutCr } from './user-file.js';

/**
 * mod_authn_file's three backends over a user file:
 * - `plain`: `user:password` in clear; Basic and Digest.
 * - `htpasswd`: `user:hash` (htpasswd-hash.ts has the formats); Basic only.
 * - `htdigest`: `user:realm:H(user:realm:password)[:H(user:realm)]` (MD5 as htdigest writes
 *   it, or SHA-256 / SHA-512-256 hex); Digest, and Basic for one algorithm.
 * User names and passwords are byte strings (latin1); the first line naming the user wins.
 */
export type BackendName = 'plain' | 'htpasswd' | 'htdigest';

export interface BasicAnswer {
  ok: boolean;
  /** Why the user's stored hash could not be checked (a format koa-lighty lacks). */
  unsupported?: string;
}

export interface DigestLookup {
  /** The name the client sent (for userhash, the lower-case hex H(user:realm)). */
  user: string;
  realm: string;
  /** The client's algorithm (one flag, maybe with SESS). */
  algorithm: number;
  userhash: boolean;
}

export interface DigestSecret {
  /** H(user:realm:password) */
  digest: Buffer;
  user: string;
}

export interface AuthBackend {
  readonly name: BackendName;
  /** Basic: whether `password` is `user`'s. `ruleAlgorithms` is the rule's digest list (htdigest). */
  basic?(user: string, password: Buffer, realm: string, ruleAlgorithms: number): Promise<BasicAnswer>;
  /** Digest: the stored H(A1), undefined for an unknown user. */
  digest?(lookup: DigestLookup): Promise<DigestSecret | undefined>;
}

export function fileBackend(name: BackendName, userFile: string | undefined, log: Logger): AuthBackend {
  const file = userFile ? new UserFile(userFile, log) : undefined;
  if (name === 'htpasswd') return htpasswdBackend(file);
  if (name === 'plain') return plainBackend(file);
  return htdigestBackend(file);
}

/** `user:secret` lines (plain and htpasswd). */
function passwordLines(file: UserFile | undefined): Promise<Map<string, string> | undefined> {
  if (!file) return Promise.resolve(undefined);
  return file.parsed('user:password', (lines, complain) => {
    const users = new Map<string, string>();
    for (const { text } of lines) {
      const colon = text.indexOf(':');
      if (colon < 0) {
        complain(`parsed error in ${file.path} expected 'username:password'`);
        continue;
      }
      const user = text.slice(0, colon);
      if (!users.has(user)) users.set(user, withoutCr(text.slice(colon + 1)));
    }
    return users;
  });
}

function htpasswdBackend(file: UserFile | undefined): AuthBackend {
  return {
    name: 'htpasswd',
    async basic(user, password) {
      const hash = (await passwordLines(file))?.get(user);
      if (hash === undefined) return { ok: false };
      const check = await checkHtpasswdHash(hash, password);
      return { ok: check.match, unsupported: check.unsupported };
    },
  };
}

function plainBackend(file: UserFile | undefined): AuthBackend {
  return {
    name: 'plain',
    async basic(user, password) {
      const stored = (await passwordLines(file))?.get(user);
      if (stored === undefined) return { ok: false };
      return { ok: sameBytes(Buffer.from(stored, 'latin1'), cString(password)) };
    },
    async digest({ user, realm, algorithm }) {
      const stored = (await passwordLines(file))?.get(user);
      if (stored === undefined) return undefined;
      return { digest: digestOf(algorithm, user, realm, stored), user };
    },
  };
}

interface HtdigestLine {
  user: string;
  realm: string;
  digest: string;
  userhash?: string;
}

function htdigestLines(file: UserFile | undefined): Promise<HtdigestLine[] | undefined> {
  if (!file) return Promise.resolve(undefined);
  return file.parsed('htdigest', (lines: UserFileLine[], complain) => {
    const entries: HtdigestLine[] = [];
    for (const { text } of lines) {
      const first = text.indexOf(':');
      const second = first < 0 ? -1 : text.indexOf(':', first + 1);
      if (second < 0) {
        complain(`parse error in ${file.path} expected 'username:realm:digest[:userhash]'`);
        continue;
      }
      const third = text.indexOf(':', second + 1);
      entries.push({
        user: text.slice(0, first),
        realm: text.slice(first + 1, second),
        digest: withoutCr(third < 0 ? text.slice(second + 1) : text.slice(second + 1, third)),
        userhash: third < 0 ? undefined : withoutCr(text.slice(third + 1)),
      });
    }
    return entries;
  });
}

/** lighttpd's htdigest lookup: the first line of this user (or userhash) and realm whose digest has the length wanted. */
async function htdigestFind(
  file: UserFile | undefined,
  lookup: DigestLookup,
  length: number,
): Promise<DigestSecret | undefined> {
  const entries = await htdigestLines(file);
  if (!entries) return undefined;
  const wanted = lookup.userhash ? Buffer.from(lookup.user, 'latin1') : undefined;
  for (const entry of entries) {
    if (entry.realm !== lookup.realm) continue;
    if (wanted) {
      if (entry.userhash === undefined || !sameLengthEqual(wanted, Buffer.from(entry.userhash, 'latin1')))
        continue;
    } else if (entry.user !== lookup.user) continue;
    if (entry.digest.length !== length * 2) continue;
    // A digest that is not hex ends the search, as in lighttpd.
    if (!/^[0-9A-Fa-f]*$/.test(entry.digest)) return undefined;
    return { digest: Buffer.from(entry.digest, 'hex'), user: entry.user };
  }
  return undefined;
}

function htdigestBackend(file: UserFile | undefined): AuthBackend {
  return {
    name: 'htdigest',
    async basic(user, password, realm, ruleAlgorithms) {
      // One algorithm for the whole file: the rule's (SHA-256 over SHA-512-256 over MD5).
      const algorithm = ruleAlgorithms & ~SESS;
      const length = digestLength(algorithm);
      const stored = await htdigestFind(file, { user, realm, algorithm, userhash: false }, length);
      if (!stored) return { ok: false };
      const flags = algorithm & SHA256 ? SHA256 : algorithm & SHA512_256 ? SHA512_256 : algorithm;
      const computed = digestOf(flags, user, realm, cString(password).toString('latin1'));
      return { ok: sameLengthEqual(computed, stored.digest) };
    },
    digest(lookup) {
      return htdigestFind(file, lookup, digestLength(lookup.algorithm));
    },
  };
}

/** lighttpd hands the password on as a C string: it ends at the first NUL. */
function cString(bytes: Buffer): Buffer {
  const nul = bytes.indexOf(0);
  return nul >= 0 ? bytes.subarray(0, nul) : bytes;
}

function sameLengthEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Constant time whatever the lengths: compares digests of both. */
function sameBytes(a: Buffer, b: Buffer): boolean {
  const digest = (bytes: Buffer) => createHash('sha256').update(bytes).digest();
  return timingSafeEqual(digest(a), digest(b)) && a.length === b.length;
}
