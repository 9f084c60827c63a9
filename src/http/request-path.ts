/**
 * lighttpd's request-target normalisation (spec 1.1). Every stage sees the same uri.path:
 * percent-decoded, `//` collapsed, dot-segments resolved without climbing above `/`.
 * Control characters (raw or encoded), `%00` and invalid UTF-8 are refused with 400.
 *
 * lighttpd first normalises the target while it is still encoded (url-normalize with the
 * default server.http-parseopts: url-normalize-unreserved, url-ctrls-reject,
 * url-path-2f-decode, url-path-dotseg-remove, url-invalid-utf8-reject; read in burl.c), and
 * uri.path and uri.query are cut from that. The encoded form is kept too (encodedTarget):
 * url.redirect and url.rewrite match it, so their `$n` captures stay encoded.
 */

export class BadRequestTarget extends Error {
  readonly status = 400;
}

export interface NormalisedTarget {
  /** uri.path: decoded and simplified, always starts with `/`, no query. */
  path: string;
  /** The query with unreserved `%XX` decoded (`x=%41` → `x=A`), without `?`; '' when absent. */
  query: string;
  /** Whether a `?` was present at all (an empty query is still a query). */
  hasQuery: boolean;
  /**
   * lighttpd's r->target after url-normalize: the path still percent-encoded (unreserved
   * `%XX` decoded, every other `%XX` in upper case, bytes a URL must not carry raw — space,
   * `"#%<>[\]^`{|}`, controls, non-ASCII — as `%XX`, `%2F` decoded to `/`, dot-segments and
   * `//` resolved like uri.path), then `?` and the query when there was one. This is what
   * url.redirect (and mod_rewrite's url.rewrite) match: `/a%20b/../c%3f?x=%41` → `/c%3F?x=A`.
   * The query part is exactly `query`.
   */
  encodedTarget: string;
}

const HEX = /^[0-9A-Fa-f]{2}$/;
const UNRESERVED = /[A-Za-z0-9\-._~]/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

export function normaliseTarget(target: string): NormalisedTarget {
  let rest = target;
  // absolute-form (`GET http://host/path HTTP/1.1`): keep only the path and query.
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/.exec(rest);
  if (scheme) rest = rest.slice(scheme[0].length) || '/';
  const hash = rest.indexOf('#');
  if (hash >= 0) rest = rest.slice(0, hash);
  const q = rest.indexOf('?');
  const rawPath = q >= 0 ? rest.slice(0, q) : rest;
  const rawQuery = q >= 0 ? rest.slice(q + 1) : '';
  if (rawPath[0] !== '/')
    throw new BadRequestTarget(`request-target must start with /: ${JSON.stringify(target)}`);
  // uri.path first: its refusals (and their messages) are the stricter ones.
  const path = simplifyPath(decodePath(rawPath));
  const query = normaliseQuery(rawQuery);
  const encodedPath = simplifyPath(encodeLikeLighttpd(rawPath, 'request path').replaceAll('%2F', '/'));
  return { path, query, hasQuery: q >= 0, encodedTarget: q >= 0 ? `${encodedPath}?${query}` : encodedPath };
}

/**
 * Percent-decodes a path completely; control characters and invalid UTF-8 are a 400.
 * lighttpd only refuses the bytes that never occur in UTF-8 (C0, C1, F5-FF) and lets a broken
 * sequence such as a lone `%c3` through to the file step (a 404, seen). A JavaScript string
 * cannot carry such bytes faithfully, so every invalid sequence is refused here.
 */
export function decodePath(raw: string): string {
  if (!raw.includes('%')) {
    rejectControls(raw);
    return raw;
  }
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x25 /* % */ && HEX.test(raw.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(raw.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c < 0x80) {
      bytes.push(c);
    } else {
      for (const b of Buffer.from(raw[i]!, 'utf8')) bytes.push(b);
    }
  }
  let decoded: string;
  try {
    decoded = utf8.decode(Uint8Array.from(bytes));
  } catch {
    throw new BadRequestTarget('request path is not valid UTF-8');
  }
  rejectControls(decoded);
  return decoded;
}

function rejectControls(s: string): void {
  if (/[\x00-\x1f\x7f]/.test(s)) throw new BadRequestTarget('control character in request path');
}

/** buffer_path_simplify: collapse `//`, drop `.` segments, resolve `..` never above `/`. */
export function simplifyPath(path: string): string {
  if (!path.includes('//') && !path.includes('/.')) return path;
  const out: string[] = [];
  const segments = path.split('/');
  for (let i = 1; i < segments.length; i++) {
    const seg = segments[i]!;
    const last = i === segments.length - 1;
    if (seg === '..') {
      out.pop();
      if (last) out.push('');
    } else if (seg === '.') {
      if (last) out.push('');
    } else if (seg === '') {
      if (last) out.push('');
    } else {
      out.push(seg);
    }
  }
  return `/${out.join('/')}`;
}

/**
 * The query as lighttpd keeps it: unreserved `%XX` decoded, the other `%XX` in upper case,
 * raw bytes that must be encoded (`"<>\^{|}`, a `%` without two hex digits, …) encoded;
 * encoded controls and bytes that never occur in UTF-8 are refused. `%2F` stays encoded here.
 */
export function normaliseQuery(raw: string): string {
  return encodeLikeLighttpd(raw, 'query string');
}

/** The characters url-normalize leaves as they are (RFC 3986 unreserved, sub-delims, `:@/?`). */
const KEPT_AS_IS = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/?]*$/;
const KEPT_BYTE = /[A-Za-z0-9\-._~!$&'()*+,;=:@/?]/;
const HEX_DIGIT = /[0-9A-Fa-f]/;

/**
 * burl_normalize_basic_unreserved for one part of the target: `%XX` of an unreserved
 * character is decoded, every other `%XX` upper-cased, and a byte outside KEPT_AS_IS written
 * as `%XX` (a JavaScript string's non-ASCII characters as their UTF-8 bytes). A control
 * character (raw or encoded) or a byte that never occurs in UTF-8 is a 400.
 */
function encodeLikeLighttpd(raw: string, part: string): string {
  if (KEPT_AS_IS.test(raw)) return raw;
  const bytes = Buffer.from(raw, 'utf8');
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    let byte = bytes[i]!;
    const ch = String.fromCharCode(byte);
    if (byte < 0x80 && KEPT_BYTE.test(ch)) {
      out += ch;
      continue;
    }
    if (byte === 0x25 /* % */ && isHexByte(bytes[i + 1]) && isHexByte(bytes[i + 2])) {
      byte = Number.parseInt(String.fromCharCode(bytes[i + 1]!, bytes[i + 2]!), 16);
      i += 2;
      const decoded = String.fromCharCode(byte);
      if (UNRESERVED.test(decoded)) {
        out += decoded;
        continue;
      }
    }
    if (byte < 0x20 || byte === 0x7f) throw new BadRequestTarget(`control character in ${part}`);
    // lighttpd refuses the bytes that never occur in UTF-8 (seen: `?a=%ff` → 400, `?a=%c3` → 200).
    if (byte === 0xc0 || byte === 0xc1 || byte >= 0xf5)
      throw new BadRequestTarget(`invalid UTF-8 byte in ${part}`);
    out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function isHexByte(byte: number | undefined): boolean {
  return byte !== undefined && HEX_DIGIT.test(String.fromCharCode(byte));
}
