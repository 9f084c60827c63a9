import { createHash, createHmac, createSecretKey, type KeyObject, timingSafeEqual } from 'node:crypto';
import { MAC_LENGTH, type SecdownloadAlgorithm } from './algorithm.js';
import { isHexDigits } from './characters.js';

/**
 * The one signing function behind the middleware, `secdownloadUrl` and the CLI (spec 2.3).
 *
 * - md5: MD5(secret ‖ signed-path ‖ timestamp-hex), written as 32 hex digits. A plain
 *   secret-prefix hash, not an HMAC: it is lighttpd's original scheme and kept for its links.
 * - hmac-sha1 / hmac-sha256: HMAC(secret, "/" ‖ timestamp-hex ‖ signed-path), written as
 *   base64url without padding.
 *
 * The timestamp is signed as the text in the URL (case and leading zeros included), and the
 * path is the normalised, decoded rel-path (see signedPath), hashed as UTF-8.
 */
export interface SecdownloadSigner {
  readonly algorithm: SecdownloadAlgorithm;
  /** How many characters the MAC in a link has. */
  readonly macLength: number;
  /** The MAC text to put in a link. */
  sign(timestampHex: string, signedPath: string): string;
  /**
   * Whether a link's MAC is right, in constant time. `mac` must already be macLength
   * characters of base64url (the link parser checks that).
   */
  verify(mac: string, timestampHex: string, signedPath: string): boolean;
}

export function createSigner(secret: string, algorithm: SecdownloadAlgorithm): SecdownloadSigner {
  if (!secret) throw new Error('secdownload: the secret must not be empty');
  return algorithm === 'md5' ? md5Signer(secret) : hmacSigner(secret, algorithm);
}

function md5Signer(secret: string): SecdownloadSigner {
  // The secret is always hashed first: hash it once and copy that state for each request.
  const keyed = createHash('md5').update(secret);
  const digest = (timestampHex: string, signedPath: string): Buffer =>
    keyed.copy().update(signedPath).update(timestampHex).digest();
  return {
    algorithm: 'md5',
    macLength: MAC_LENGTH.md5,
    sign: (timestampHex, signedPath) => digest(timestampHex, signedPath).toString('hex'),
    verify(mac, timestampHex, signedPath) {
      // lighttpd ≥ 1.4.50 hex-decodes the MAC before comparing, so upper-case hex is fine;
      // anything that is not hex is a wrong MAC (403), not a malformed link.
      if (!isHexDigits(mac, 0, mac.length)) return false;
      return timingSafeEqual(Buffer.from(mac, 'hex'), digest(timestampHex, signedPath));
    },
  };
}

function hmacSigner(secret: string, algorithm: 'hmac-sha1' | 'hmac-sha256'): SecdownloadSigner {
  const key: KeyObject = createSecretKey(Buffer.from(secret, 'utf8'));
  const hash = algorithm === 'hmac-sha1' ? 'sha1' : 'sha256';
  const sign = (timestampHex: string, signedPath: string): string =>
    createHmac(hash, key).update('/').update(timestampHex).update(signedPath).digest('base64url');
  return {
    algorithm,
    macLength: MAC_LENGTH[algorithm],
    sign,
    verify(mac, timestampHex, signedPath) {
      // Compared as text, like lighttpd: decoding first would also accept the other spellings
      // of the last character (its unused low bits), which lighttpd refuses.
      const expected = Buffer.from(sign(timestampHex, signedPath), 'latin1');
      const given = Buffer.from(mac, 'latin1');
      return given.length === expected.length && timingSafeEqual(given, expected);
    },
  };
}

/**
 * The part of the rel-path that is signed (spec 2.3): with pathSegments = N > 0, only the
 * first N segments (`/dir/deep.txt` → `/dir` for N = 1), so one link covers a whole folder;
 * with a non-empty query (hash-querystr), `?query` appended.
 */
export function signedPath(relPath: string, pathSegments = 0, query = ''): string {
  let signed = relPath;
  if (pathSegments > 0) {
    // Find the (N+1)-th `/` of the rel-path (its first `/` is the leading one).
    let cut = 0;
    let remaining = pathSegments;
    do cut = relPath.indexOf('/', cut + 1);
    while (cut >= 0 && --remaining > 0);
    if (cut >= 0) signed = relPath.slice(0, cut);
  }
  return query ? `${signed}?${query}` : signed;
}
