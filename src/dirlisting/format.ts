/**
 * The byte-level pieces of a lighttpd 1.4.69 directory listing: how names are escaped for
 * HTML and for links, how sizes and dates are written. File names are bytes (they need not
 * be UTF-8), so everything here works on Buffers.
 */

/**
 * Bytes lighttpd's ENCODING_MINIMAL_XML writes as `&#xHH;`: control characters, DEL and
 * `" & ' < > \``. Bytes of 0x80 and above pass unchanged (so UTF-8 names stay readable and a
 * non-UTF-8 name stays its own bytes); none of them can open a tag or end an attribute.
 */
const XML_ESCAPED = byteSet((b) => b < 0x20 || b === 0x7f || '"&\'<>`'.includes(String.fromCharCode(b)));

/** Bytes ENCODING_REL_URI_PART keeps in a link: `A-Z a-z 0-9 ! ( ) * - . _ ~`; the rest become `%HH`. */
const URI_PART_KEPT = byteSet((b) => /[A-Za-z0-9!()*\-._~]/.test(String.fromCharCode(b)));

function byteSet(member: (byte: number) => boolean): Uint8Array {
  const set = new Uint8Array(256);
  for (let b = 0; b < 256; b++) set[b] = member(b) ? 1 : 0;
  return set;
}

const HEX = '0123456789ABCDEF';

/** Text for HTML content or a quoted attribute, as lighttpd escapes it. */
export function escapeXml(bytes: Buffer): Buffer {
  let count = 0;
  for (const b of bytes) count += XML_ESCAPED[b]!;
  if (count === 0) return bytes;
  const out = Buffer.allocUnsafe(bytes.length + count * 5);
  let at = 0;
  for (const b of bytes) {
    if (XML_ESCAPED[b]) {
      at += out.write(`&#x${HEX[b >> 4]}${HEX[b & 15]};`, at, 'latin1');
    } else out[at++] = b;
  }
  return out;
}

/** One path segment for an href: everything outside URI_PART_KEPT percent-encoded (`/` too). */
export function encodeUriPart(bytes: Buffer): Buffer {
  let count = 0;
  for (const b of bytes) count += 1 - URI_PART_KEPT[b]!;
  if (count === 0) return bytes;
  const out = Buffer.allocUnsafe(bytes.length + count * 2);
  let at = 0;
  for (const b of bytes) {
    if (URI_PART_KEPT[b]) out[at++] = b;
    else at += out.write(`%${HEX[b >> 4]}${HEX[b & 15]}`, at, 'latin1');
  }
  return out;
}

/**
 * lighttpd's size column: one decimal and a unit, always at least K, the tenths truncated
 * (`0.0K` for an empty file, `0.1K` for 1 to 100 bytes, `1.4K` for 1500, `1.9M` for 2,000,000);
 * a value of 1000 to 1023 of a unit is written as `0.9` of the next one.
 */
export function formatSize(bytes: number): string {
  let size = bytes;
  // Small files would round down to 0.0K: lighttpd adds 99 so they show as 0.1K.
  if (size > 0 && size < 100) size += 99;
  let unit = -1;
  let remain: number;
  do {
    remain = size % 1024;
    size = Math.floor(size / 1024);
    unit++;
  } while (size >= 1024);
  let tenths = Math.min(Math.floor(remain / 100), 9);
  if (size > 999) {
    size = 0;
    tenths = 9;
    unit++;
  }
  return `${size}.${tenths}${'KMGTPE'[unit]}`;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * strftime's `%Y-%b-%d %T` in the server's time zone (TZ, as lighttpd's localtime): `2023-Jun-15
 * 12:34:56`. Month names are the C locale's, whatever the environment's locale.
 */
export function formatMtime(seconds: number): string {
  const d = new Date(seconds * 1000);
  const p = (n: number) => String(n).padStart(2, '0');
  return (
    `${d.getFullYear()}-${MONTHS[d.getMonth()]}-${p(d.getDate())} ` +
    `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
  );
}
