import { type ExpiresOptions, expires } from '../middleware/expire.js';
import { module } from './descriptor.js';

/** mod_expire: Cache-Control max-age (Expires for HTTP/1.0) by URL prefix or Content-Type prefix. */
export const modExpire = module({
  name: 'mod_expire',
  hook: 'response_start',
  keys: { 'expire.url': 'pairs', 'expire.mimetypes': 'pairs' },
  pure: true,
  optionKeys: { url: 'expire.url', mimetypes: 'expire.mimetypes' },
  read(r): ExpiresOptions | undefined {
    const url = r.pairs('expire.url');
    const mimetypes = lighttpdJavascriptRule(r.pairs('expire.mimetypes'));
    return url.length > 0 || mimetypes.length > 0 ? { url, mimetypes } : undefined;
  },
  stage: (options) => expires(options),
});

/**
 * lighttpd 1.4.69 sends text/javascript where a type says application/javascript (static
 * files and backends alike), so at start it renames an `application/javascript` rule to
 * `text/javascript`, unless a `text/javascript` or `text/` rule exists. Its array code moves
 * the list's last rule into the renamed rule's place and appends the renamed one (seen: with
 * `"text/java" =>` and `"" =>` after it, the `""` rule then comes first and wins).
 */
function lighttpdJavascriptRule(rules: Array<[string, string]>): Array<[string, string]> {
  const prefix = ([key]: [string, string]) => (key.endsWith('*') ? key.slice(0, -1) : key);
  if (rules.some((rule) => prefix(rule) === 'text/javascript' || prefix(rule) === 'text/')) return rules;
  const at = rules.findIndex((rule) => prefix(rule) === 'application/javascript');
  if (at < 0) return rules;
  const reordered = [...rules];
  const last = reordered.pop()!;
  if (at < reordered.length) reordered[at] = last;
  reordered.push(['text/javascript', rules[at]![1]]);
  return reordered;
}
