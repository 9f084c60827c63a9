import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { hashName, SESS } from './digest-algorithm.js';

/**
 * Digest nonces in lighttpd 1.4.69's form: `<hex seconds>:<hex H(seconds, random)>`, or with a
 * rule's nonce-secret `<hex seconds>:<hex random>:<hex H(seconds, random, secret)>`.
 *
 * Without a secret only the time is checked, as in lighttpd: a nonce is fresh for 10 minutes,
 * and any well-formed one is accepted (a server that shares no secret cannot tell its own
 * nonces from others; with --workers or several instances, every one must accept the others').
 * With a secret the whole nonce must be one this secret made. (lighttpd 1.4.69 recomputed it
 * with the current second and the wrong random field, so no nonce ever passed; later releases
 * check it as done here.)
 */
export const NONCE_LIFETIME = 600;
/** A nonce older than this gets a nextnonce (Authentication-Info) with the answer. */
export const NONCE_RENEW_AFTER = 540;

export function makeNonce(now: number, algorithm: number, secret?: string, random?: number): string {
  const rnd = random ?? randomBytes(4).readUInt32LE(0);
  const head = secret === undefined ? `${now.toString(16)}:` : `${now.toString(16)}:${rnd.toString(16)}:`;
  // The hash input is lighttpd's: the time as a 64-bit and the random as a 32-bit integer in
  // the machine's (little-endian) order, then the secret.
  const input = Buffer.alloc(12);
  input.writeBigInt64LE(BigInt(now), 0);
  input.writeUInt32LE(rnd >>> 0, 8);
  const hash = createHash(hashName(algorithm & ~SESS)).update(input);
  if (secret !== undefined) hash.update(secret, 'latin1');
  return head + hash.digest('hex');
}

export type NonceCheck =
  | { ok: true; age: number }
  /** Expired, from the future, or without a time: the client should retry with a new one. */
  | { ok: false; stale: true }
  /** Not made with this rule's secret (a 401), or not shaped like one (a 400). */
  | { ok: false; stale: false; malformed: boolean };

export function checkNonce(nonce: string, now: number, algorithm: number, secret?: string): NonceCheck {
  const time = /^[0-9A-Fa-f]{0,16}/.exec(nonce)![0];
  if (nonce[time.length] !== ':') return { ok: false, stale: true };
  // Up to 16 hex digits, read as lighttpd's signed 64-bit time.
  const ts = time === '' ? 0n : BigInt.asIntN(64, BigInt(`0x${time}`));
  const current = BigInt(now);
  if (ts > current || current - ts > BigInt(NONCE_LIFETIME)) return { ok: false, stale: true };
  const age = Number(current - ts);
  if (secret === undefined) return { ok: true, age };
  const random = /^[0-9A-Fa-f]{0,8}/.exec(nonce.slice(time.length + 1))![0];
  if (nonce[time.length + 1 + random.length] !== ':') return { ok: false, stale: false, malformed: true };
  const expected = Buffer.from(
    makeNonce(Number(ts), algorithm, secret, random === '' ? 0 : Number.parseInt(random, 16)),
    'latin1',
  );
  const given = Buffer.from(nonce, 'latin1');
  const same = expected.length === given.length && timingSafeEqual(expected, given);
  return same ? { ok: true, age } : { ok: false, stale: false, malformed: false };
}
