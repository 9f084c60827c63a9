/**
 * Base64 as lighttpd's li_base64_dec reads it (standard alphabet), so that a credential is
 * accepted or refused exactly where lighttpd accepts or refuses it:
 * - blanks and control characters (0x01-0x20) are skipped;
 * - the first `=`, or any other character outside the alphabet, ends the data (what follows
 *   is ignored), but a NUL there or a lone last character (one 6-bit group) is an error;
 * - an empty result is an error too (mod_auth answers 400 for both).
 */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const VALUE = new Int8Array(256).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) VALUE[ALPHABET.charCodeAt(i)] = i;
const SKIP = -2;
for (let c = 1; c <= 0x20; c++) VALUE[c] = SKIP;

/** The decoded bytes, or undefined where lighttpd's decoder fails. `text` is a latin1 byte string. */
export function decodeBase64Like(text: string): Buffer | undefined {
  const out: number[] = [];
  let group = 0;
  let count = 0;
  let stop = -1;
  for (let at = 0; at < text.length; at++) {
    const code = text.charCodeAt(at);
    const value = code < 256 ? VALUE[code]! : -1;
    if (value === SKIP) continue;
    if (value < 0) {
      stop = code;
      break;
    }
    group = (group << 6) | value;
    if ((++count & 3) === 0) {
      out.push((group >> 16) & 0xff, (group >> 8) & 0xff, group & 0xff);
      group = 0;
    }
  }
  // Data cut off by a NUL counts as broken; by `=`, the end or another character it does not.
  const rest = stop === 0 ? 1 : count & 3;
  if (rest === 1) return undefined;
  if (rest === 3) out.push((group >> 10) & 0xff, (group >> 2) & 0xff);
  if (rest === 2) out.push((group >> 4) & 0xff);
  return out.length > 0 ? Buffer.from(out) : undefined;
}
