/**
 * The three MAC schemes of lighttpd's mod_secdownload (spec 2.1–2.3). The name is exactly the
 * `secdownload.algorithm` value; the MAC length is what a link must carry, and parsing uses it
 * to tell a secdownload link from any other URL under the prefix.
 */
export type SecdownloadAlgorithm = 'md5' | 'hmac-sha1' | 'hmac-sha256';

export const SECDOWNLOAD_ALGORITHMS: readonly SecdownloadAlgorithm[] = ['md5', 'hmac-sha1', 'hmac-sha256'];

/** Characters in a link's MAC: 32 hex digits for md5, unpadded base64url for the HMACs. */
export const MAC_LENGTH: Readonly<Record<SecdownloadAlgorithm, number>> = {
  md5: 32,
  'hmac-sha1': 27,
  'hmac-sha256': 43,
};

export function isSecdownloadAlgorithm(value: unknown): value is SecdownloadAlgorithm {
  return typeof value === 'string' && (SECDOWNLOAD_ALGORITHMS as readonly string[]).includes(value);
}

/** Throws a message that lists the accepted names (lighttpd: "invalid secdownload.algorithm"). */
export function assertSecdownloadAlgorithm(value: unknown): asserts value is SecdownloadAlgorithm {
  if (!isSecdownloadAlgorithm(value))
    throw new Error(
      `invalid secdownload algorithm ${JSON.stringify(value)}: use ${SECDOWNLOAD_ALGORITHMS.join(', ')}`,
    );
}
