import { normaliseQuery, simplifyPath } from '../http/request-path.js';
import { assertSecdownloadAlgorithm, type SecdownloadAlgorithm } from './algorithm.js';
import { createSigner, signedPath } from './sign.js';
import { formatTimestamp, roundDown } from './timestamp.js';

export interface SecdownloadUrlOptions {
  secret: string;
  /** The server's uri-prefix, e.g. `/dl/`. */
  uriPrefix: string;
  algorithm: SecdownloadAlgorithm;
  /** The file below the server's document root, decoded (`/my file.txt`), starting with `/`. */
  path: string;
  /** As configured on the server (secdownload.path-segments); 0 signs the whole path. */
  pathSegments?: number;
  /** A query to add and sign, for servers with hash-querystr enabled. */
  query?: string;
  /** Unix seconds to sign instead of the clock's. */
  timestamp?: number;
  /** Round the timestamp down to a multiple of this many seconds (cacheable links). */
  granularity?: number;
  /** Milliseconds since the epoch, like Date.now (tests set it). */
  now?: () => number;
}

/**
 * A signed link, `<uriPrefix><mac>/<timestamp-hex><path>[?query]`, that the secdownload
 * middleware (and lighttpd's mod_secdownload) accepts. The path is signed the way the server
 * will see it, normalised and decoded, and written into the URL percent-encoded.
 */
export function secdownloadUrl(options: SecdownloadUrlOptions): string {
  const { secret, uriPrefix, algorithm } = options;
  if (!secret) throw new Error('secdownload: secret is missing');
  if (!uriPrefix) throw new Error('secdownload: uriPrefix is missing');
  assertSecdownloadAlgorithm(algorithm);
  const path = serverPath(options.path);
  const query = options.query ? serverQuery(options.query) : '';
  const pathSegments = options.pathSegments ?? 0;
  if (!Number.isInteger(pathSegments) || pathSegments < 0 || pathSegments > 65535)
    throw new Error(`secdownload: pathSegments must be an integer from 0 to 65535, not ${pathSegments}`);

  let seconds = options.timestamp ?? Math.floor((options.now ?? Date.now)() / 1000);
  if (options.granularity !== undefined) seconds = roundDown(seconds, options.granularity);
  const timestampHex = formatTimestamp(seconds);

  const mac = createSigner(secret, algorithm).sign(timestampHex, signedPath(path, pathSegments, query));
  return `${uriPrefix}${mac}/${timestampHex}${encodePath(path)}${query ? `?${query}` : ''}`;
}

/** The rel-path as the server will see it after its normalisation (spec 1.1). */
function serverPath(path: string): string {
  if (typeof path !== 'string' || !path.startsWith('/'))
    throw new Error(`secdownload: path must start with /, not ${JSON.stringify(path)}`);
  // The server answers 400 to these before secdownload sees the request.
  if (CONTROL.test(path)) throw new Error('secdownload: path must not contain control characters');
  return simplifyPath(path);
}

const CONTROL = /[\x00-\x1f\x7f]/;

/** Characters a query may carry as they are; the rest is percent-encoded as UTF-8. */
const QUERY_UNSAFE = /[^A-Za-z0-9\-._~!$&'()*+,;=:@/?%]/gu;

/** The query as the server will see it: encoded where needed, then normalised like the server does. */
function serverQuery(query: string): string {
  const raw = query.startsWith('?') ? query.slice(1) : query;
  return normaliseQuery(raw.replace(QUERY_UNSAFE, (c) => encodeURIComponent(c)));
}

function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}
