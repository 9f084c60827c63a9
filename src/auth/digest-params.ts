/**
 * The parameters of an `Authorization: Digest …` header, read the way lighttpd 1.4.69 reads
 * them (mod_auth_digest_parse_authorization), so that the same headers are accepted, refused
 * (400) or challenged again (401):
 * - names are case-sensitive; `name = value` may have blanks around `=`;
 * - a quoted value is taken as it is between the quotes (backslash escapes are skipped over,
 *   not undone); an unquoted one ends at `,`, blank or tab;
 * - an unknown name is skipped one character at a time, so its tail may still be read as a
 *   known name (`xnc=1` sets `nc`), as in lighttpd;
 * - a malformed pair (no `=`, an unterminated quote) ends the parsing there.
 * Values are latin1 byte strings.
 */
export const DIGEST_PARAMS = [
  'username',
  'realm',
  'nonce',
  'uri',
  'algorithm',
  'qop',
  'cnonce',
  'nc',
  'response',
  'username*',
  'userhash',
] as const;
export type DigestParam = (typeof DIGEST_PARAMS)[number];
export type DigestParams = Partial<Record<DigestParam, string>>;

const KNOWN = new Set<string>(DIGEST_PARAMS);
const blank = (c: string | undefined) => c === ' ' || c === '\t';

/** `text` is the header value after `Digest `. */
export function parseDigestParams(text: string): DigestParams {
  const params: DigestParams = {};
  const end = text.length;
  for (let c = 0; c < end; c++) {
    while (c < end && (blank(text[c]) || text[c] === ',')) c++;
    if (c >= end) break;
    let e = c;
    while (e < end && text[e] !== '=' && !blank(text[e])) e++;
    const name = text.slice(c, e);
    if (!KNOWN.has(name)) continue;
    c = e;
    if (text[c] !== '=') {
      while (blank(text[c])) c++;
      if (text[c] !== '=') return params;
    }
    do c++;
    while (blank(text[c]));
    let value: string;
    if (text[c] === '"') {
      e = ++c;
      for (; e < end && text[e] !== '"'; e++) if (text[e] === '\\' && ++e >= end) return params;
      if (e >= end) return params;
      value = text.slice(c, e);
    } else {
      for (e = c; e < end && text[e] !== ',' && !blank(text[e]); e++);
      value = text.slice(c, e);
    }
    params[name as DigestParam] = value;
    c = text.indexOf(',', e);
    if (c < 0) return params;
  }
  return params;
}

/**
 * `username*` (RFC 7616 3.4.4, an RFC 5987 ext-value: `UTF-8''J%C3%A4s`), decoded as lighttpd
 * decodes it; a string saying why it is refused (400) otherwise.
 */
export function decodeUserStar(value: string): { user: string } | { error: string } {
  let at: number;
  if (value.length > 5 && value.slice(0, 5).toLowerCase() === 'utf-8') at = 5;
  else if (value.length > 10 && value.slice(0, 10).toLowerCase() === 'iso-8859-1') at = 10;
  else return { error: 'digest: invalid "username*" ext-value' };
  if (value[at] !== "'") return { error: 'digest: invalid "username*" ext-value' };
  const close = value.indexOf("'", at + 1);
  if (close < 0) return { error: 'digest: invalid "username*" ext-value' };
  const user = percentDecode(value.slice(close + 1));
  // lighttpd checks UTF-8 only when the charset was written in lower case.
  if (value[0] === 'u' && !isUtf8(user)) return { error: 'digest: invalid "username*" invalid UTF-8' };
  if (user.length > 256) return { error: 'digest: invalid "username*" too long' };
  if (/[\x00-\x1f\x7f]/.test(user)) return { error: 'digest: invalid "username*" contains ctrl chars' };
  return { user };
}

/** buffer_urldecode_path: `%XX` decoded (a control character becomes `_`), a stray `%` kept. */
function percentDecode(text: string): string {
  return text.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => {
    const code = Number.parseInt(hex, 16);
    return code < 32 || code === 127 ? '_' : String.fromCharCode(code);
  });
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function isUtf8(bytes: string): boolean {
  try {
    strictUtf8.decode(Buffer.from(bytes, 'latin1'));
    return true;
  } catch {
    return false;
  }
}
