/**
 * lighttpd's request-target normalisation (spec 1.1). Every stage sees the same uri.path:
 * percent-decoded, `//` collapsed, dot-segments resolved without climbing above `/`.
 * Control characters (raw or encoded), `%00` and invalid UTF-8 are refused with 400.
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
  return { path: simplifyPath(decodePath(rawPath)), query: normaliseQuery(rawQuery), hasQuery: q >= 0 };
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

/** Decodes unreserved `%XX`, upper-cases the hex of the others, refuses encoded controls and non-UTF-8 bytes. */
export function normaliseQuery(raw: string): string {
  if (!raw.includes('%')) {
    rejectControls(raw);
    return raw;
  }
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i]!;
    const hex = raw.slice(i + 1, i + 3);
    if (ch === '%' && HEX.test(hex)) {
      const code = Number.parseInt(hex, 16);
      if (code < 0x20 || code === 0x7f) throw new BadRequestTarget('control character in query string');
      // lighttpd refuses the bytes that never occur in UTF-8 (seen: `?a=%ff` → 400, `?a=%c3` → 200).
      if (code === 0xc0 || code === 0xc1 || code >= 0xf5)
        throw new BadRequestTarget('invalid UTF-8 byte in query string');
      const decoded = String.fromCharCode(code);
      out += UNRESERVED.test(decoded) ? decoded : `%${hex.toUpperCase()}`;
      i += 2;
    } else {
      out += ch;
    }
  }
  rejectControls(out);
  return out;
}
