/**
 * accesslog.escaping: how client-controlled text (headers, the request line, the query, …) is
 * written so that it cannot forge a line or break a quoted field. Both work on byte strings
 * (one char per byte, as Node hands over header values), as lighttpd escapes bytes.
 *
 * - "default": printable ASCII stays; `"` and `\` get a backslash; \a \b \t \n \v \f \r are
 *   written so; every other byte (controls, DEL, non-ASCII) is `\xHH` in upper case.
 * - "json": the same, but other controls are `\u00HH` and DEL and non-ASCII bytes pass as they
 *   are (the line is meant to be JSON, which is UTF-8).
 * (Read in lighttpd 1.4.69 buffer.c, buffer_append_bs_escaped and _json; seen on a running one.)
 */
export type AccessLogEscaping = 'default' | 'json';

export type Escape = (bytes: string) => string;

const SHORT: Record<number, string> = {
  7: 'a',
  8: 'b',
  9: 't',
  10: 'n',
  11: 'v',
  12: 'f',
  13: 'r',
  34: '"',
  92: '\\',
};

const hex = (c: number) => c.toString(16).toUpperCase().padStart(2, '0');

const NEEDS_DEFAULT = /[^ !#-[\]-~]/;
const NEEDS_JSON = /[\x00-\x1f"\\]/;

export function escapeDefault(bytes: string): string {
  if (!NEEDS_DEFAULT.test(bytes)) return bytes;
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes.charCodeAt(i) & 0xff;
    if (c >= 0x20 && c <= 0x7e && c !== 0x22 && c !== 0x5c) out += String.fromCharCode(c);
    else out += SHORT[c] ? `\\${SHORT[c]}` : `\\x${hex(c)}`;
  }
  return out;
}

export function escapeJson(bytes: string): string {
  if (!NEEDS_JSON.test(bytes)) return bytes;
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes.charCodeAt(i) & 0xff;
    if (c >= 0x20 && c !== 0x22 && c !== 0x5c) out += String.fromCharCode(c);
    else out += SHORT[c] ? `\\${SHORT[c]}` : `\\u00${hex(c)}`;
  }
  return out;
}

export function escaper(escaping: AccessLogEscaping): Escape {
  return escaping === 'json' ? escapeJson : escapeDefault;
}
