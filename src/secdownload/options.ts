import { resolve } from 'node:path';
import { DEFAULT_MIME_ASSIGN, type MimeAssign, MimeTypes } from '../http/mime.js';
import { defaultLogger, type Logger } from '../log.js';
import { assertSecdownloadAlgorithm, type SecdownloadAlgorithm } from './algorithm.js';

/** The options of `secdownload()`: lighttpd's `secdownload.*` (spec 2.1) in camelCase, plus the Koa extras. */
export interface SecdownloadOptions {
  /** secdownload.secret */
  secret: string;
  /** secdownload.document-root: the directory links point into; nothing outside it is ever sent. */
  documentRoot: string;
  /** secdownload.uri-prefix, e.g. `/dl/`; compared case-sensitively with the normalised path. */
  uriPrefix: string;
  /** secdownload.timeout: seconds a link is valid either side of its timestamp (default 60). */
  timeout?: number;
  /** secdownload.algorithm. Without it md5 is used, with a warning (lighttpd before 1.4.38 did the same). */
  algorithm?: SecdownloadAlgorithm;
  /** secdownload.path-segments: sign only the first N segments of the path (default 0: all of it). */
  pathSegments?: number;
  /** secdownload.hash-querystr: sign the query string too (default false). */
  hashQuerystr?: boolean;
  /** mimetype.assign, or a MimeTypes built from it (default DEFAULT_MIME_ASSIGN). */
  mimeTypes?: MimeTypes | MimeAssign;
  /** server.follow-symlink (default true). Links out of documentRoot are refused either way. */
  followSymlink?: boolean;
  /** The clock, in milliseconds since the epoch like Date.now (tests set it). */
  now?: () => number;
  log?: Logger;
}

export interface SecdownloadConfig {
  secret: string;
  /** Absolute, without a trailing slash ('' for `/`), ready to have a rel-path appended. */
  documentRoot: string;
  uriPrefix: string;
  timeout: number;
  algorithm: SecdownloadAlgorithm;
  pathSegments: number;
  hashQuerystr: boolean;
  mimeTypes: MimeTypes;
  followSymlink: boolean;
  now: () => number;
  log: Logger;
}

export const LOG_SOURCE = 'secdownload';

/**
 * Checks the options once, at start, and throws a message naming every missing or wrong one.
 * lighttpd started anyway and answered 500 to every request instead (design.md section 7).
 */
export function secdownloadConfig(options: SecdownloadOptions): SecdownloadConfig {
  const log = options.log ?? defaultLogger;
  const missing = (['secret', 'documentRoot', 'uriPrefix'] as const).filter(
    (name) => typeof options[name] !== 'string' || options[name] === '',
  );
  if (missing.length > 0)
    throw new Error(
      `secdownload: missing ${missing.map((name) => `${name} (secdownload.${LIGHTTPD_NAMES[name]})`).join(', ')}`,
    );

  let algorithm = options.algorithm;
  if (algorithm === undefined) {
    algorithm = 'md5';
    log.warn(
      LOG_SOURCE,
      'secdownload.algorithm is not set: using md5, as lighttpd before 1.4.38 did; set it (hmac-sha256 for new sites)',
    );
  }
  assertSecdownloadAlgorithm(algorithm);

  if (!options.uriPrefix.startsWith('/'))
    log.warn(
      LOG_SOURCE,
      `secdownload.uri-prefix ${JSON.stringify(options.uriPrefix)} does not start with /: no request will match it`,
    );

  const root = resolve(options.documentRoot);
  return {
    secret: options.secret,
    documentRoot: root === '/' ? '' : root,
    uriPrefix: options.uriPrefix,
    timeout: integerOption('timeout', options.timeout ?? 60, 0xffff_ffff),
    algorithm,
    pathSegments: integerOption('pathSegments', options.pathSegments ?? 0, 65535),
    hashQuerystr: options.hashQuerystr ?? false,
    mimeTypes:
      options.mimeTypes instanceof MimeTypes
        ? options.mimeTypes
        : new MimeTypes(options.mimeTypes ?? DEFAULT_MIME_ASSIGN),
    followSymlink: options.followSymlink ?? true,
    now: options.now ?? Date.now,
    log,
  };
}

const LIGHTTPD_NAMES = { secret: 'secret', documentRoot: 'document-root', uriPrefix: 'uri-prefix' } as const;

function integerOption(name: string, value: number, max: number): number {
  if (!Number.isInteger(value) || value < 0 || value > max)
    throw new Error(`secdownload: ${name} must be an integer from 0 to ${max}, not ${value}`);
  return value;
}
