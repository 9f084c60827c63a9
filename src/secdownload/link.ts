import { isBase64urlChars, isHexDigit } from './characters.js';

/**
 * A secdownload link taken apart (spec 2.2): `<uri-prefix><mac>/<timestamp-hex><rel-path>`.
 * Parsed from the normalised uri.path, so `..`, `%2e%2e` and `%2f` are already resolved and
 * the rel-path can never climb out of the document root.
 */
export interface SecdownloadLink {
  mac: string;
  /** The timestamp as written in the link (1-16 hex digits, either case): this text is signed. */
  timestampHex: string;
  /** Unix seconds. Above 2^53 it is approximate, which only matters to links centuries away. */
  timestamp: number;
  /** Starts with `/`: the file below the document root, plus any path-info. */
  relPath: string;
}

const SLASH = 0x2f;
const MAX_TIMESTAMP_DIGITS = 16;

/**
 * Parses the part of `path` after a prefix of `prefixLength` characters (the caller has matched
 * the prefix). Anything that is not a well-formed link is undefined: lighttpd then lets the
 * request go on to the next handler, as if secdownload were not there.
 */
export function parseSecdownloadLink(
  path: string,
  prefixLength: number,
  macLength: number,
): SecdownloadLink | undefined {
  const macEnd = prefixLength + macLength;
  if (!isBase64urlChars(path, prefixLength, macEnd) || path.charCodeAt(macEnd) !== SLASH) return undefined;
  const timestampStart = macEnd + 1;
  let timestampEnd = timestampStart;
  while (timestampEnd - timestampStart < MAX_TIMESTAMP_DIGITS && isHexDigit(path.charCodeAt(timestampEnd)))
    timestampEnd++;
  if (timestampEnd === timestampStart || path.charCodeAt(timestampEnd) !== SLASH) return undefined;
  const timestampHex = path.slice(timestampStart, timestampEnd);
  return {
    mac: path.slice(prefixLength, macEnd),
    timestampHex,
    timestamp: Number.parseInt(timestampHex, 16),
    relPath: path.slice(timestampEnd),
  };
}
