/**
 * What a condition can look at, filled by the caller from one request. Every string is a
 * *byte string*: one character per byte (latin1), which is what Node hands out for header
 * values. lighttpd compares bytes, and its regexes need the bytes to decide whether the
 * text is valid UTF-8 (spec 5.2: an invalid-UTF-8 Referer makes `=~` false and `!~` true).
 * `toByteString` turns an already-decoded string (such as a decoded uri.path) into one.
 */
export interface Facts {
  /** uri.path: percent-decoded, normalised, without the query. */
  readonly url: string;
  /** The authority, lower-cased, possibly with `:port` (from Host or an absolute URI). */
  readonly host: string;
  /** Request headers; undefined when absent (compared as ""). */
  readonly referer: string | undefined;
  readonly useragent: string | undefined;
  readonly cookie: string | undefined;
  /** Accept-Language. */
  readonly language: string | undefined;
  /** The client address as lighttpd prints it: `127.0.0.1`, `::1` (no `::ffff:` prefix). */
  readonly remoteip: string;
  /** The query string without `?`; "" when there is none. */
  readonly querystring: string;
  /** GET, POST, … */
  readonly requestMethod: string;
  /** "http" or "https". */
  readonly scheme: string;
  /** The listening socket as written in lighttpd configs: `":8080"`, `"127.0.0.1:8080"`, `"[::1]:8080"`. */
  readonly serverSocket: string;
  /** Any request header by name (as written in the config; look it up case-insensitively). */
  header(name: string): string | undefined;
}

const ASCII = /^[\x00-\x7f]*$/;

/** A decoded (UTF-16) string as a byte string of its UTF-8 encoding; ASCII is returned as is. */
export function toByteString(text: string): string {
  return ASCII.test(text) ? text : Buffer.from(text, 'utf8').toString('latin1');
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes a byte string as UTF-8; undefined when it is not valid UTF-8. */
export function decodeByteString(bytes: string): string | undefined {
  if (ASCII.test(bytes)) return bytes;
  try {
    return utf8.decode(Buffer.from(bytes, 'latin1'));
  } catch {
    return undefined;
  }
}
