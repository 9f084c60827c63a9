import { createHash } from 'node:crypto';

/**
 * HTTP Digest algorithms as lighttpd 1.4.69 names and combines them (bit flags, as in
 * mod_auth_api.h): a rule's `algorithm` is a `|` list of them; `-sess` variants are always
 * accepted from a client, whatever the rule lists (lighttpd starts every rule with the flag).
 */
export const SESS = 1;
export const MD5 = 2;
export const SHA256 = 4;
export const SHA512_256 = 8;

/** The challenges a rule sends, strongest first, as lighttpd orders its WWW-Authenticate lines. */
export const CHALLENGE_ORDER: ReadonlyArray<readonly [bit: number, name: string]> = [
  [SHA512_256, 'SHA-512-256'],
  [SHA256, 'SHA-256'],
  [MD5, 'MD5'],
];

/**
 * One algorithm token (`MD5`, `sha-256`, `SHA-512-256`, each optionally `-sess`; '' is MD5),
 * as mod_auth_algorithm_parse reads it: `sha-` and `md` in any case, the digits exact.
 */
export function parseAlgorithm(token: string): number | undefined {
  if (token === '') return MD5;
  let flags = 0;
  let name = token;
  if (name.length > 5 && name.slice(-5).toLowerCase() === '-sess' && name[name.length - 5] === '-') {
    flags = SESS;
    name = name.slice(0, -5);
  }
  if (name.length === 3 && name.slice(0, 2).toLowerCase() === 'md' && name[2] === '5') return flags | MD5;
  if (name.length >= 7 && name.slice(0, 3).toLowerCase() === 'sha' && name[3] === '-') {
    if (name.slice(4) === '256') return flags | SHA256;
    if (name.slice(4) === '512-256') return flags | SHA512_256;
  }
  return undefined;
}

/** A rule's `algorithm` list; undefined when a token is unknown (lighttpd refuses to start). */
export function parseAlgorithms(list: string): number | undefined {
  let flags = SESS;
  for (const token of list === '' ? ['MD5'] : list.split('|')) {
    const bits = parseAlgorithm(token);
    if (bits === undefined) return undefined;
    flags |= bits;
  }
  return flags;
}

/** node:crypto's name for the digest a flag set computes with (SHA-256 first, as lighttpd picks). */
export function hashName(flags: number): 'sha256' | 'sha512-256' | 'md5' {
  if (flags & SHA256) return 'sha256';
  if (flags & SHA512_256) return 'sha512-256';
  return 'md5';
}

/** Bytes of that digest. */
export function digestLength(flags: number): number {
  return flags & (SHA256 | SHA512_256) ? 32 : 16;
}

/** H(parts joined by `:`), parts being latin1 byte strings. */
export function digestOf(flags: number, ...parts: string[]): Buffer {
  return createHash(hashName(flags)).update(parts.join(':'), 'latin1').digest();
}
