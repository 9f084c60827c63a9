/**
 * lighttpd's rule lists for url.redirect and url.rewrite-* (keyvalue.c, burl.c of 1.4.69): a
 * regex matched against the encoded request-target (RequestState.encodedTarget) and a target
 * with references to the rule's captures (`$n`), to the captures of the condition around the
 * rule (`%n`), and to parts of the URL (`${url.path}`, `${qsa}`, …). Both sides are
 * normalised at start the way lighttpd does it, so that a rule written with `ä` or `%c3%a4`
 * matches the encoded `%C3%A4` of the target. One engine for mod_redirect and mod_rewrite.
 */
import { compilePcre, UnsupportedRegex } from '../config/pcre.js';

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

/**
 * Whether a target refers to the enclosing condition: `%0`…`%9` or `%{…}` (`%%` is a literal
 * `%`). lighttpd then keeps that condition's captures, and turns it back into a regex if it
 * was a simple comparison (see capturingCondition).
 */
export function usesConditionCaptures(template: string): boolean {
  for (let i = template.indexOf('%'); i >= 0 && i + 1 < template.length; i = template.indexOf('%', i + 1)) {
    const next = template[i + 1]!;
    if (next === '%') i++;
    else if (next === '{' || (next >= '0' && next <= '9')) return true;
  }
  return false;
}

/** A compiled rule: its regex and its (normalised) target. */
export interface Rule {
  regex: RegExp;
  target: string;
}

/** lighttpd refuses a rule regex with more captures than its match data holds. */
const MAX_CAPTURES = 19;

/**
 * Compiles `[regex, target]` pairs as lighttpd does at start. A PCRE string is normalised
 * (see normaliseRuleMatch) and translated; a RegExp is used as it is. Throws a plain Error
 * whose message says what is wrong with which rule.
 */
export function compileRules(rules: ReadonlyArray<{ match: string | RegExp; target: string }>): Rule[] {
  return rules.map(({ match, target }) => {
    let regex: RegExp;
    if (typeof match === 'string') {
      try {
        regex = compilePcre(normaliseRuleMatch(match));
      } catch (error) {
        const why = error instanceof UnsupportedRegex ? error.message : (error as Error).message;
        throw new Error(`invalid regex ${JSON.stringify(match)}: ${why}`);
      }
    } else {
      regex = match;
    }
    if (captureCount(regex) > MAX_CAPTURES)
      throw new Error(`too many captures in ${JSON.stringify(String(match))}: use (?:...) instead of (...)`);
    return { regex, target: normaliseRuleTarget(target) };
  });
}

function captureCount(regex: RegExp): number {
  return new RegExp(`${regex.source}|`, regex.flags.replace(/[gy]/g, '')).exec('')!.length - 1;
}

export interface RuleMatch {
  /** Position of the rule in its list. */
  index: number;
  rule: Rule;
  match: RegExpExecArray;
}

/**
 * The first rule whose regex matches, as pcre_keyvalue_buffer_process finds it. A matching
 * rule with an empty target ends the search without a result (lighttpd's way to exempt URLs
 * from the rules after it): the caller then does nothing.
 */
export function firstMatch(rules: readonly Rule[], subject: string): RuleMatch | undefined {
  for (let index = 0; index < rules.length; index++) {
    const rule = rules[index]!;
    rule.regex.lastIndex = 0;
    const match = rule.regex.exec(subject);
    if (match) return { index, rule, match };
  }
  return undefined;
}

/** The parts of the request a target can name with `${url.…}` and `${qsa}`. */
export interface UrlParts {
  /** `http` or `https`. */
  scheme: string;
  /** The Host as lighttpd keeps it (lower-cased, with a port if one was sent). */
  authority: string;
  /** The port the request came in on. */
  port: number;
  /** The current encoded request-target, query included (`${url.path}` is up to the `?`). */
  target: string;
  /** uri.query; undefined when the target has no `?` at all. */
  query: string | undefined;
}

export interface SubstitutionContext {
  /** The rule's match: `$0`…`$9`. */
  match: RegExpExecArray;
  /**
   * The captures of the condition of the block the rules come from (`%0`…`%9`); undefined
   * when there is none (global rules, an `else`, a `!~`), so that `%n` is empty.
   */
  conditionMatch?: ArrayLike<string | undefined>;
  url?: UrlParts;
}

export interface Substituted {
  text: string;
  /** How many characters at the start of text come from the rule itself, before any capture. */
  literalPrefix: number;
}

/**
 * pcre_keyvalue_buffer_subst: `$n` and `%n` are the captures as they stand in their subject
 * (the encoded target for `$n`, the condition's value for `%n`; a group that did not take
 * part is ''). `${…}` and `%{…}` take modifiers (see appendBraced). `$$` is `$` and `%%` is
 * `%`; any other `$x` or `%x` stays as written.
 */
export function substitute(template: string, context: SubstitutionContext): Substituted {
  const out: Builder = { text: '', literalPrefix: -1 };
  let start = 0;
  for (let k = 0; k + 1 < template.length; k++) {
    const ch = template[k]!;
    if (ch !== '$' && ch !== '%') continue;
    out.text += template.slice(start, k);
    const next = template[k + 1]!;
    if (next === '{') {
      const end = appendBraced(out, template, k, context);
      if (end < 0) return finish(out); // lighttpd truncates the result at a broken ${
      k = end;
    } else if (next >= '0' && next <= '9') {
      appendCapture(out, ch, Number(next), context, 0);
      k++;
    } else {
      out.text += next === ch ? ch : ch + next;
      k++;
    }
    start = k + 1;
  }
  out.text += template.slice(start);
  return finish(out);
}

interface Builder {
  text: string;
  literalPrefix: number;
}

function finish(out: Builder): Substituted {
  return { text: out.text, literalPrefix: out.literalPrefix < 0 ? out.text.length : out.literalPrefix };
}

/** burl.h's recoding flags. */
const TOLOWER = 0x1;
const TOUPPER = 0x2;
const ENCODE_NONE = 0x4;
const ENCODE_ALL = 0x8;
const ENCODE_NDE = 0x10;
const ENCODE_PSNDE = 0x20;
const ENCODE_B64U = 0x40;
const DECODE_B64U = 0x80;

/**
 * pcre_keyvalue_buffer_subst_ext for the `${` (or `%{`) at `at`: modifiers (`esc:`, `escape:`,
 * `escnde:`, `escpsnde:`, `noesc:`, `noescape:`, `tolower:`, `toupper:`, `encb64u:`,
 * `decb64u:`) then a capture number, or `url.scheme|authority|port|path|query`, or `qsa`.
 * A braced capture without modifiers is encoded like `escpsnde:` (everything but unreserved
 * characters and `/`, existing `%XX` kept). Returns the index of the closing `}`, or -1.
 *
 * lighttpd 1.4.69's quirks are kept: `toupper:` lower-cases, and `tolower:`/`toupper:` alone
 * (without an encoding modifier) append nothing.
 */
function appendBraced(out: Builder, template: string, at: number, context: SubstitutionContext): number {
  let p = at + 2;
  let flags = 0;
  const rest = (n: number) => template.slice(p, p + n);
  const skipPast = (ch: string) => {
    const found = template.indexOf(ch, p);
    return found < 0 ? -1 : found;
  };
  while (p < template.length && !isDigit(template[p]!) && template[p] !== '}') {
    if (rest(3) === 'esc') {
      p += 3;
      if (template[p] === ':') {
        flags |= ENCODE_ALL;
        p += 1;
      } else if (rest(4) === 'ape:') {
        flags |= ENCODE_ALL;
        p += 4;
      } else if (rest(4) === 'nde:') {
        flags |= ENCODE_NDE;
        p += 4;
      } else if (rest(6) === 'psnde:') {
        flags |= ENCODE_PSNDE;
        p += 6;
      } else {
        const colon = skipPast(':');
        if (colon < 0) return -1;
        p = colon + 1;
      }
    } else if (rest(2) === 'no') {
      p += 2;
      if (rest(4) === 'esc:') {
        flags |= ENCODE_NONE;
        p += 4;
      } else if (rest(7) === 'escape:') {
        flags |= ENCODE_NONE;
        p += 7;
      } else {
        const colon = skipPast(':');
        if (colon < 0) return -1;
        p = colon + 1;
      }
    } else if (rest(2) === 'to') {
      p += 2;
      if (rest(6) === 'lower:' || rest(6) === 'upper:') {
        flags |= TOLOWER; // sic: 1.4.69 lower-cases for toupper: too
        p += 6;
      } else {
        const colon = skipPast(':');
        if (colon < 0) return -1;
        p = colon + 1;
      }
    } else if (rest(4) === 'url.') {
      p += 4;
      const close = skipPast('}');
      if (close >= 0) appendUrlPart(out, template.slice(p, close), flags, context.url);
      return close;
    } else if (rest(4) === 'qsa}') {
      const query = context.url?.query;
      if (query !== undefined) {
        markSubstitution(out);
        if (out.text.includes('?')) {
          if (query !== '') out.text += '&';
        } else {
          out.text += '?';
        }
        out.text += recode(query, flags);
      }
      return p + 3;
    } else if (rest(8) === 'encb64u:') {
      flags |= ENCODE_B64U;
      p += 8;
    } else if (rest(8) === 'decb64u:') {
      flags |= DECODE_B64U;
      p += 8;
    } else {
      p++;
    }
  }
  if (p >= template.length) return -1;
  if (template[p] !== '}') {
    let num = Number(template[p]);
    p++;
    if (isDigit(template[p] ?? '')) num = num * 10 + Number(template[p++]);
    if (template[p] !== '}') {
      const close = skipPast('}');
      if (close < 0) return -1;
      p = close;
    }
    appendCapture(out, template[at]!, num, context, flags === 0 ? ENCODE_PSNDE : flags);
  }
  return p;
}

function appendUrlPart(out: Builder, name: string, flags: number, url?: UrlParts): void {
  if (!url) return;
  let value: string | undefined;
  switch (name) {
    case 'scheme':
      value = recode(url.scheme, flags);
      break;
    case 'authority':
      value = recode(url.authority, flags);
      break;
    case 'port':
      value = String(url.port); // lighttpd writes the number whatever the modifiers
      break;
    case 'path': {
      const q = url.target.indexOf('?');
      value = recode(q < 0 ? url.target : url.target.slice(0, q), flags);
      break;
    }
    case 'query':
      value = url.query === undefined ? undefined : recode(url.query, flags);
      break;
  }
  if (value === undefined) return;
  markSubstitution(out);
  out.text += value;
}

function appendCapture(
  out: Builder,
  sigil: string,
  num: number,
  context: SubstitutionContext,
  flags: number,
) {
  const captures = sigil === '$' ? context.match : context.conditionMatch;
  markSubstitution(out);
  if (!captures || num >= captures.length) return;
  out.text += recode(captures[num] ?? '', flags);
}

function markSubstitution(out: Builder): void {
  if (out.literalPrefix < 0) out.literalPrefix = out.text.length;
}

function isDigit(ch: string): boolean {
  return ch >= '0' && ch <= '9';
}

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
const HEX_PAIR = /^[0-9A-Fa-f]{2}$/;

/** burl_append: a substituted value, recoded as its modifiers ask (flags 0: as it is). */
function recode(value: string, flags: number): string {
  if (value === '' || flags === 0) return value;
  let text = '';
  if (flags & ENCODE_NONE) text = value;
  else if (flags & ENCODE_ALL) text = encodeBytes(value, () => false, false);
  else if (flags & ENCODE_NDE) text = encodeBytes(value, () => false, true);
  else if (flags & ENCODE_PSNDE) text = encodeBytes(value, (ch) => ch === '/', true);
  else if (flags & ENCODE_B64U) text = Buffer.from(value, 'utf8').toString('base64url');
  else if (flags & DECODE_B64U) text = bytesAsUrlText(decodeBase64Url(value));
  if (flags & TOLOWER) return caseOutsideEscapes(text, (ch) => ch.toLowerCase());
  if (flags & TOUPPER) return caseOutsideEscapes(text, (ch) => ch.toUpperCase());
  return text;
}

/**
 * Percent-encodes every byte but the unreserved characters (and what `keep` keeps). With
 * `keepEscapes` an existing `%XX` is not encoded again: decoded when it is of an unreserved
 * character, else kept as it is (burl_append_encode_nde / _psnde); without, `%` is `%25`.
 */
function encodeBytes(value: string, keep: (ch: string) => boolean, keepEscapes: boolean): string {
  const bytes = Buffer.from(value, 'utf8');
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!;
    const ch = String.fromCharCode(byte);
    if (keepEscapes && byte === 0x25) {
      const hex = String.fromCharCode(bytes[i + 1] ?? 0, bytes[i + 2] ?? 0);
      if (HEX_PAIR.test(hex)) {
        const decoded = String.fromCharCode(Number.parseInt(hex, 16));
        out += UNRESERVED.test(decoded) ? decoded : `%${hex}`;
        i += 2;
        continue;
      }
    }
    if (byte < 0x80 && (UNRESERVED.test(ch) || keep(ch))) out += ch;
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** ASCII letters changed, the hex digits of `%XX` left alone (burl_offset_tolower). */
function caseOutsideEscapes(text: string, change: (ch: string) => string): string {
  return text.replace(/%[0-9A-Fa-f]{2}|[A-Za-z]+/g, (s) => (s[0] === '%' ? s : change(s)));
}

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * li_base64_dec with the URL alphabet: whitespace and control characters are skipped, the
 * first other character outside the alphabet ends the input, and an input that leaves a
 * single dangling character decodes to nothing.
 */
function decodeBase64Url(value: string): Buffer {
  const bytes: number[] = [];
  let bits = 0;
  let count = 0;
  for (const ch of value) {
    const code = ch.charCodeAt(0);
    const digit = BASE64URL.indexOf(ch);
    if (digit < 0) {
      if (code > 0 && code <= 0x20) continue;
      break;
    }
    bits = (bits << 6) | digit;
    if (++count % 4 === 0) {
      bytes.push((bits >> 16) & 0xff, (bits >> 8) & 0xff, bits & 0xff);
      bits = 0;
    }
  }
  const left = count % 4;
  if (left === 1) return Buffer.alloc(0);
  if (left === 3) bytes.push((bits >> 10) & 0xff, (bits >> 2) & 0xff);
  if (left === 2) bytes.push((bits >> 4) & 0xff);
  return Buffer.from(bytes);
}

/**
 * Decoded bytes go into a URL: lighttpd appends them raw, and the URL's normalisation then
 * writes every byte above 0x7f as `%XX`; that is done here already, since a JavaScript string
 * holds text, not bytes.
 */
function bytesAsUrlText(bytes: Buffer): string {
  let out = '';
  for (const byte of bytes)
    out += byte < 0x80 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}

/** A byte a Location must never carry raw: controls, space, DEL, anything not ASCII. */
const UNSAFE_IN_LOCATION = /[\x00-\x20\x7f]|[^\x00-\x7f]+/gu;

/**
 * The Location header for a substituted target. Captures come from the encoded target, so they
 * hold no raw space, control or non-ASCII byte; whatever else produced one (the rule's own
 * text, a condition's decoded value), it is `%XX` here. A target made protocol-relative by a
 * capture (`"^/x(.*)$" => "/$1"` for `/x/evil.example` gives `//evil.example`, another host
 * for a browser, and so does `/\`) keeps a single leading `/`; a rule that itself starts
 * with `//` is left alone.
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
