import type { OptionReader } from '../config/option-reader.js';
import { ConfigArray } from '../config/values.js';
import { firstPassOnly } from '../http/request-state.js';
import { type SetenvOptions, setenv } from '../middleware/setenv.js';
import { module } from './descriptor.js';

/** Stage option → config key; the key's values are `( "name" => "value", … )`. */
const KEYS = {
  addRequestHeaders: 'setenv.add-request-header',
  setRequestHeaders: 'setenv.set-request-header',
  addResponseHeaders: 'setenv.add-response-header',
  setResponseHeaders: 'setenv.set-response-header',
  addEnvironment: 'setenv.add-environment',
  setEnvironment: 'setenv.set-environment',
} as const satisfies Record<keyof SetenvOptions, string>;

/** The stage's options, and what the config had to have mended (said once at start). */
interface ModSetenvOptions {
  options: SetenvOptions;
  mended: string[];
}

/**
 * mod_setenv: request and response headers, and the backend's environment. lighttpd runs it
 * in uri_clean, so server.modules decides whether an access rule or a redirect listed before
 * it answers without its headers. Each key is an option of its own: a block's value replaces
 * the global one (`+=` in the block keeps both).
 */
export const modSetenv = module<ModSetenvOptions>({
  name: 'mod_setenv',
  hook: 'uri_clean',
  keys: Object.fromEntries(Object.values(KEYS).map((key) => [key, 'pairs'])),
  pure: true,
  optionKeys: KEYS,
  read(r) {
    const options: SetenvOptions = {};
    const mended: string[] = [];
    let any = false;
    for (const [option, key] of Object.entries(KEYS) as Array<[keyof SetenvOptions, string]>) {
      let pairs = nameValues(r, key);
      if (pairs.length === 0) continue;
      if (key.endsWith('-header')) {
        pairs = pairs.map(([name, value]) => {
          const tidy = tidyHeaderValue(value);
          if (!/[\r\n]/.test(tidy)) return [name, tidy];
          const at = r.where(key);
          mended.push(
            `${at.file}:${at.line}: ${key}: ${name} holds a line break, invalid in a header: each one is sent as a space`,
          );
          return [name, tidy.replace(/[\r\n]+/g, ' ')];
        });
      }
      options[option] = pairs;
      any = true;
    }
    return any ? { options, mended } : undefined;
  },
  stage({ options, mended }, { log }) {
    for (const line of mended) log.warn('mod_setenv', line);
    // Once per request, as lighttpd's: a request rewritten at the file step keeps its first headers.
    return firstPassOnly(setenv(options));
  },
});

/** `( "name" => "string", … )` as lighttpd wants it: no plain entries, no numbers, no name twice in any case. */
function nameValues(r: OptionReader, key: string): Array<[string, string]> {
  const value = r.raw(key);
  if (value === undefined) return [];
  const shape = 'expected a list of key => string values, like ( "..." => "...", "..." => "..." )';
  if (!(value instanceof ConfigArray)) throw r.error(key, shape);
  const seen = new Set<string>();
  return value.entries.map((entry) => {
    if (entry.key === undefined || typeof entry.value !== 'string') throw r.error(key, shape);
    const lower = entry.key.toLowerCase();
    if (seen.has(lower)) throw r.error(key, `duplicate array-key: ${entry.key}`);
    seen.add(lower);
    return [entry.key, entry.value];
  });
}

/**
 * lighttpd's convenience for a header written over several lines: a line end right after a
 * `,` becomes a space, and blanks around the value go. lighttpd sends any other line end as
 * it is, with a warning that it is invalid (a client takes it for a folded or a new line);
 * koa-lighty sends a space there, and says so at start.
 */
function tidyHeaderValue(value: string): string {
  return value
    .replace(/,(\r?)(\n?)/g, (_, cr: string, lf: string) => `,${cr ? ' ' : ''}${lf ? ' ' : ''}`)
    .replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, '');
}
