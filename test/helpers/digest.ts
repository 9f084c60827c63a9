/**
 * The client side of HTTP Digest (RFC 7616, qop=auth), written from the RFC for the tests:
 * given a server's challenge, the Authorization header a browser would send.
 */
import { createHash } from 'node:crypto';

export interface Challenge {
  realm: string;
  nonce: string;
  algorithm: string;
  qop?: string;
  stale?: boolean;
  userhash?: boolean;
}

/** Every `Digest …` challenge in a WWW-Authenticate header (repeated lines joined by `, `, as Node joins them, or one line each). */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  const text = Array.isArray(header) ? header.join(', ') : (header ?? '');
  return text
    .split(/(?:^|,\s*)Digest /)
    .filter((part) => part.trim() !== '')
    .map((part) => {
      const field = (name: string) => new RegExp(`(?:^|[ ,])${name}=(?:"([^"]*)"|([^, ]*))`).exec(part);
      const value = (name: string) => {
        const m = field(name);
        return m ? (m[1] ?? m[2]) : undefined;
      };
      return {
        realm: value('realm') ?? '',
        nonce: value('nonce') ?? '',
        algorithm: value('algorithm') ?? 'MD5',
        qop: value('qop'),
        stale: value('stale') === 'true',
        userhash: value('userhash') === 'true',
      };
    });
}

export interface DigestCredentials {
  user: string;
  password: string;
  method?: string;
  uri: string;
  /** As sent: `MD5`, `SHA-256`, `MD5-sess`… (default: the challenge's). */
  algorithm?: string;
  realm: string;
  nonce: string;
  cnonce?: string;
  nc?: string;
  /** Send the user as H(user:realm) with userhash=true. */
  userhash?: boolean;
  /** Leave qop (and nc, cnonce) out: RFC 2069 style. */
  noQop?: boolean;
}

function hasher(algorithm: string): (s: string) => string {
  const base = algorithm.replace(/-sess$/i, '').toUpperCase();
  const name = base === 'SHA-256' ? 'sha256' : base === 'SHA-512-256' ? 'sha512-256' : 'md5';
  return (s) => createHash(name).update(s, 'utf8').digest('hex');
}

/** The response value for these credentials. */
export function digestResponse(c: DigestCredentials & { algorithm: string }): string {
  const H = hasher(c.algorithm);
  const cnonce = c.cnonce ?? '0a4f113b';
  const nc = c.nc ?? '00000001';
  let ha1 = H(`${c.user}:${c.realm}:${c.password}`);
  if (/-sess$/i.test(c.algorithm)) ha1 = H(`${ha1}:${c.nonce}:${cnonce}`);
  const ha2 = H(`${c.method ?? 'GET'}:${c.uri}`);
  return c.noQop ? H(`${ha1}:${c.nonce}:${ha2}`) : H(`${ha1}:${c.nonce}:${nc}:${cnonce}:auth:${ha2}`);
}

/** The whole `Digest …` header value. */
export function digestAuthorization(c: DigestCredentials): string {
  const algorithm = c.algorithm ?? 'MD5';
  const response = digestResponse({ ...c, algorithm });
  const H = hasher(algorithm);
  const name = c.userhash ? H(`${c.user}:${c.realm}`) : c.user;
  const parts = [
    `username="${name}"`,
    `realm="${c.realm}"`,
    `nonce="${c.nonce}"`,
    `uri="${c.uri}"`,
    `algorithm=${algorithm}`,
    `response="${response}"`,
  ];
  if (!c.noQop) parts.push('qop=auth', `nc=${c.nc ?? '00000001'}`, `cnonce="${c.cnonce ?? '0a4f113b'}"`);
  if (c.userhash) parts.push('userhash=true');
  return `Digest ${parts.join(', ')}`;
}

/** A nonce in lighttpd's form for a given time (seconds): only its time is checked without a nonce-secret. */
export function nonceAt(seconds: number): string {
  return `${Math.floor(seconds).toString(16)}:${'0'.repeat(32)}`;
}
