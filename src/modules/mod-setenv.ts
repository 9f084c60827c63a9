import type { OptionReader } from '../config/option-reader.js';
import { ConfigArray } from '../config/values.js';
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

/**
 * mod_setenv: request and response headers, and the backend's environment. lighttpd runs it
 * in uri_clean, so server.modules decides whether an access rule or a redirect listed before
 * it answers without its headers. Each key is an option of its own: a block's value replaces
 * the global one (`+=` in the block keeps both).
 */
export const modSetenv = module({
  name: 'mod_setenv',
  hook: 'uri_clean',
  keys: Object.fromEntries(Object.values(KEYS).map((key) => [key, 'pairs'])),
  pure: true,
  optionKeys: KEYS,
  read(r) {
    const options: SetenvOptions = {};
    let any = false;
    for (const [option, key] of Object.entries(KEYS) as Array<[keyof SetenvOptions, string]>) {
      const pairs = nameValues(r, key);
      if (pairs.length === 0) continue;
      options[option] = key.endsWith('-header')
        ? pairs.map(([name, value]) => [name, tidyHeaderValue(value)])
        : pairs;
      any = true;
    }
    return any ? options : undefined;
  },
  stage: (options) => setenv(options),
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
 * `,` becomes a space, and blanks around the value go. A line end left elsewhere is refused
 * by the stage (lighttpd warns that it is invalid, and sends it).
 */
function tidyHeaderValue(value: string): string {
  return value
    .replace(/,(\r?)(\n?)/g, (_, cr: string, lf: string) => `,${cr ? ' ' : ''}${lf ? ' ' : ''}`)
    .replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, '');
}
