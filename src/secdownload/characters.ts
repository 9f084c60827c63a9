/**
 * Character classes of a secdownload link, as lookup tables: the link is parsed on every
 * request under the prefix, so no regular expressions and no allocations.
 */
const BASE64URL = new Uint8Array(128);
const HEX = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_')
  BASE64URL[c.charCodeAt(0)] = 1;
for (const c of '0123456789abcdefABCDEF') HEX[c.charCodeAt(0)] = 1;

/** Whether s[start, end) is all `[A-Za-z0-9_-]` (and inside s). */
export function isBase64urlChars(s: string, start: number, end: number): boolean {
  if (end > s.length) return false;
  for (let i = start; i < end; i++) if (BASE64URL[s.charCodeAt(i)] !== 1) return false;
  return true;
}

/** Whether s[start, end) is all hex digits, either case (and inside s). */
export function isHexDigits(s: string, start: number, end: number): boolean {
  if (end > s.length) return false;
  for (let i = start; i < end; i++) if (HEX[s.charCodeAt(i)] !== 1) return false;
  return true;
}

export function isHexDigit(code: number): boolean {
  return HEX[code] === 1;
}
