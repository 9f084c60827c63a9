/**
 * lighttpd's rule lists for url.redirect (and url.rewrite): a regex matched against the
 * encoded request-target (RequestState.encodedTarget) and a target with `$n` references.
 * Both are normalised at start the way lighttpd does it (read, keyvalue.c), so that a rule
 * written with `ä` or `%c3%a4` matches the encoded `%C3%A4` of the target.
 */

const LOWER_HEX_ESCAPE = /%([0-9A-Fa-f]{2})/g;
const LOWER_HEX_DOUBLE_ESCAPE = /%%([0-9A-Fa-f]{2})/g;
const NON_ASCII = /[^\x00-\x7f]+/gu;

/** A rule's regex as lighttpd compiles it: `%xx` upper-cased, non-ASCII as its UTF-8 `%XX`. */
export function normaliseRuleMatch(pattern: string): string {
  return pattern
    .replace(LOWER_HEX_ESCAPE, (_, hex: string) => `%${hex.toUpperCase()}`)
    .replace(NON_ASCII, (s) => percentBytes(s, '%'));
}

/**
 * A rule's target as lighttpd keeps it: `%%xx` (a literal `%xx`, `%` being the escape of
 * `%N`) upper-cased, non-ASCII written as `%%XX`, so the substituted result carries `%XX`.
 */
export function normaliseRuleTarget(template: string): string {
  return template
    .replace(LOWER_HEX_DOUBLE_ESCAPE, (_, hex: string) => `%%${hex.toUpperCase()}`)
    .replace(NON_ASCII, (s) => percentBytes(s, '%%'));
}

/** Whether a target uses `%1`…`%9`, an enclosing condition's captures (`%%` is a literal `%`). */
export function usesConditionCaptures(template: string): boolean {
  return /(?:^|[^%])(?:%%)*%[0-9]/.test(template);
}

export interface Substituted {
  text: string;
  /** How many characters at the start of text come from the rule itself, before any capture. */
  literalPrefix: number;
}

/**
 * pcre_keyvalue_buffer_subst for `$0`…`$9`: each is the capture as it stands in the subject
 * (still encoded), a group that did not take part is ''. `$$` is `$` and `%%` is `%`; any
 * other `$x` or `%x` stays as written.
 */
export function substitute(template: string, match: RegExpExecArray): Substituted {
  let text = '';
  let literalPrefix = -1;
  let start = 0;
  for (let k = 0; k + 1 < template.length; k++) {
    const ch = template[k]!;
    if (ch !== '$' && ch !== '%') continue;
    text += template.slice(start, k);
    const next = template[k + 1]!;
    if (ch === '$' && next >= '0' && next <= '9') {
      if (literalPrefix < 0) literalPrefix = text.length;
      text += match[Number(next)] ?? '';
    } else {
      text += next === ch ? ch : ch + next;
    }
    k++;
    start = k + 1;
  }
  text += template.slice(start);
  return { text, literalPrefix: literalPrefix < 0 ? text.length : literalPrefix };
}

/** A byte a Location must never carry raw: controls, space, DEL, anything not ASCII. */
const UNSAFE_IN_LOCATION = /[\x00-\x20\x7f]|[^\x00-\x7f]+/gu;

/**
 * The Location header for a substituted target. Captures come from the encoded target, so they
 * hold no raw space, control or non-ASCII byte; whatever else produced one (the rule's own
 * text), it is `%XX` here. A target made protocol-relative by a capture (`"^/x(.*)$" =>
 * "/$1"` for `/x/evil.example` gives `//evil.example`, another host for a browser, and so
 * does `/\`) keeps a single leading `/`; a rule that itself starts with `//` is left alone.
 */
export function safeLocation({ text, literalPrefix }: Substituted): string {
  let location = text.replace(UNSAFE_IN_LOCATION, (s) => percentBytes(s, '%'));
  if (literalPrefix < 2 && /^[/\\]{2}/.test(location)) location = location.replace(/^[/\\]+/, '/');
  return location;
}

function percentBytes(s: string, marker: string): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8'))
    out += `${marker}${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}
