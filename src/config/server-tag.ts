import type { OptionReader } from './option-reader.js';

export const DEFAULT_SERVER_TAG = 'lighttpd/1.4.69 (koa-lighty)';

/**
 * server.tag of one scope (lighttpd allows it in blocks): the Server header and
 * SERVER_SOFTWARE. Blank (or only whitespace) sends no Server header and an empty
 * SERVER_SOFTWARE, in a block as globally.
 */
export function serverTag(r: OptionReader): string {
  const tag = r.string('server.tag');
  if (tag === undefined) return DEFAULT_SERVER_TAG;
  return /^[ \t\r\n]*$/.test(tag) ? '' : tag;
}
