import type { Middleware } from 'koa';
import { requestAuthority } from '../http/authority.js';
import { notADirectory, withSlash } from '../http/doc-root.js';
import { requestState } from '../http/request-state.js';
import { defaultLogger, type Logger } from '../log.js';
import { OptionError } from '../option-error.js';

export interface EvhostOptions {
  /**
   * evhost.path-pattern: the document root, with the request's host put in. For
   * `sub2.sub1.example.org:8080`: `%0` is `example.org` (domain and tld), `%1` `org`, `%2`
   * `example`, `%3` `sub1`, `%4` `sub2`, … up to `%9`; `%_` the whole host without its port;
   * `%{n}` is `%n`, `%{n.m}` the m-th character of `%n` (`%{n.0}` all of it); `%%` is `%`.
   * A part the host does not have is left out. Any other `%` is refused.
   */
  pathPattern: string;
  log?: Logger;
}

/** A pattern cut into literal text and `%` sequences, as lighttpd cuts it at start. */
type Piece = { text: string } | { part: number; char?: number } | { whole: true } | { percent: true };

/**
 * lighttpd's mod_evhost: the document root built from a pattern and the parts of the
 * request's host. When the directory is not there, lighttpd logs it and the request keeps the
 * server's document root; a request without a host is left alone.
 *
 * The parts are labels of a host that passed lighttpd's host policy (letters, digits, `-`,
 * never empty, never `..`); an IPv6 literal gives only `%0` (`[::1]`), and `%_` cut at its
 * first `:` (`[`), as in lighttpd. A Host outside that policy is a 400.
 *
 * ```ts
 * app.use(evhost({ pathPattern: '/srv/www/%0/%3/' }));   // www.example.org → /srv/www/example.org/www/
 * ```
 */
export function evhost(options: EvhostOptions): Middleware {
  const pieces = parseEvhostPattern(options.pathPattern);
  const log = options.log ?? defaultLogger;
  return async function evhostMiddleware(ctx, next) {
    const authority = requestAuthority(ctx);
    if (authority) {
      const root = evhostPath(pieces, authority);
      const problem = await notADirectory(root);
      if (problem === undefined) requestState(ctx).documentRoot = root;
      else log.error('evhost', `${root}: ${problem}`);
    }
    await next();
  };
}

/** `%%`, `%_`, `%n` and `%{n}` / `%{n.m}` with single digits; anything else after `%` is refused. */
export function parseEvhostPattern(pattern: string): Piece[] {
  if (!pattern) throw new OptionError('ERR_EVHOST_PATTERN', 'pathPattern', 'must not be empty');
  const pieces: Piece[] = [];
  const sequence = /%(?:(%)|(_)|([0-9])|\{([0-9])(?:\.([0-9]))?\})/y;
  let text = '';
  for (let at = 0; at < pattern.length; ) {
    if (pattern[at] !== '%') {
      text += pattern[at++];
      continue;
    }
    sequence.lastIndex = at;
    const match = sequence.exec(pattern);
    if (!match)
      throw new OptionError(
        'ERR_EVHOST_PATTERN',
        'pathPattern',
        `invalid evhost.path-pattern ${JSON.stringify(pattern)}: "%" must be followed by %, _, a digit or {digit} / {digit.digit}`,
      );
    if (text) pieces.push({ text });
    text = '';
    const [, percent, whole, digit, braced, char] = match;
    if (percent) pieces.push({ percent: true });
    else if (whole) pieces.push({ whole: true });
    else if (digit) pieces.push({ part: Number(digit) });
    else
      pieces.push(
        char && char !== '0' ? { part: Number(braced), char: Number(char) } : { part: Number(braced) },
      );
    at = sequence.lastIndex;
  }
  if (text) pieces.push({ text });
  return pieces;
}

/** The pattern filled in for `authority` (canonical host, maybe with a port), with a trailing slash. */
export function evhostPath(pieces: readonly Piece[], authority: string): string {
  const parts = hostParts(authority);
  let path = '';
  for (const piece of pieces) {
    if ('text' in piece) path += piece.text;
    else if ('percent' in piece) path += '%';
    else if ('whole' in piece) path += cutAtColon(authority);
    else {
      const value = parts[piece.part] ?? '';
      if (piece.char === undefined) path += value;
      else if (piece.char <= value.length) path += value[piece.char - 1];
    }
  }
  return withSlash(path);
}

/**
 * `%0`… of a host: [0] the last two labels (domain and tld, or the whole name when it has
 * fewer), then the labels from the right. An IPv6 literal has only [0], the bracketed address.
 */
function hostParts(authority: string): string[] {
  if (authority.startsWith('[')) return [authority.slice(0, authority.indexOf(']') + 1)];
  const name = cutAtColon(authority);
  const labels = name.split('.').filter((label) => label !== '');
  return [labels.slice(-2).join('.'), ...labels.reverse()];
}

function cutAtColon(host: string): string {
  const colon = host.indexOf(':');
  return colon >= 0 ? host.slice(0, colon) : host;
}
