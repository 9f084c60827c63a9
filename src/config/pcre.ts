/**
 * lighttpd compiles condition regexes with PCRE2 in UTF mode. JavaScript's RegExp with the `u`
 * flag has the same model (the subject is a sequence of code points, `.` is one code point,
 * `\w`/`\d` stay ASCII, `i` folds Unicode) once the subject bytes are decoded as UTF-8; the
 * matcher does that decoding, and treats invalid UTF-8 as PCRE2's match error ("no match").
 *
 * What differs is the pattern syntax, so patterns are rewritten here:
 * - `$` means "end, or before a final newline" in PCRE; `.` excludes only `\n`.
 * - PCRE accepts escapes of any punctuation (`\-`, `\"`, `\/`) and a `{` that is no
 *   quantifier; the `u` flag rejects both, so they become plain literals.
 * - `\A \z \Z \Q…\E \h \e \x{…}`, `(?#…)`, `(?P<n>…)`, leading `(?i)`-style flags and
 *   POSIX classes `[[:alpha:]]` are translated.
 * Anything else PCRE-only (atomic groups, possessive quantifiers, recursion) is refused with
 * a clear message instead of silently meaning something else.
 */

export class UnsupportedRegex extends Error {}

const SYNTAX_CHARS = '^$\\.*+?()[]{}|/';
const SIMPLE_ESCAPES = 'dDwWsSbBnrtfv';

const POSIX_CLASSES: Record<string, string> = {
  alpha: 'a-zA-Z',
  digit: '0-9',
  alnum: 'a-zA-Z0-9',
  upper: 'A-Z',
  lower: 'a-z',
  space: '\\t\\n\\v\\f\\r ',
  blank: ' \\t',
  punct: '!-\\/:-@\\[-`{-~',
  xdigit: '0-9A-Fa-f',
  word: '\\w',
  cntrl: '\\x00-\\x1f\\x7f',
  print: ' -~',
  graph: '!-~',
  ascii: '\\x00-\\x7f',
};

const HORIZONTAL_SPACE = '\\t \\u00a0\\u1680\\u180e\\u2000-\\u200a\\u202f\\u205f\\u3000';

/** Compiles a PCRE2 pattern to an equivalent RegExp; throws SyntaxError or UnsupportedRegex. */
export function compilePcre(pattern: string): RegExp {
  const { source, flags } = translatePcre(pattern);
  return new RegExp(source, `${flags}u`);
}

export function translatePcre(pattern: string): { source: string; flags: string } {
  let flags = '';
  let i = 0;
  // Leading inline options apply to the whole pattern, which RegExp flags can express.
  const leading = /^\(\?([imsx]+)\)/.exec(pattern);
  if (leading) {
    if (leading[1]!.includes('x')) throw new UnsupportedRegex('the (?x) option is not supported');
    flags = [...new Set(leading[1])].join('');
    i = leading[0].length;
  }
  const dotAll = flags.includes('s');
  const multiline = flags.includes('m');
  let out = '';
  while (i < pattern.length) {
    const c = pattern[i]!;
    if (c === '\\') {
      const [text, next] = translateEscape(pattern, i, false);
      out += text;
      i = next;
    } else if (c === '[') {
      const [text, next] = translateClass(pattern, i);
      out += text;
      i = next;
    } else if (c === '.') {
      out += dotAll ? '[\\s\\S]' : '[^\\n]';
      i++;
    } else if (c === '$') {
      out += multiline ? '(?=\\n|$)' : '(?=\\n?$)';
      i++;
    } else if (c === '(') {
      const [text, next] = translateGroupStart(pattern, i);
      out += text;
      i = next;
    } else if (c === '{') {
      const quantifier = /^\{\d+(,\d*)?\}/.exec(pattern.slice(i));
      out += quantifier ? quantifier[0] : '\\{';
      i += quantifier ? quantifier[0].length : 1;
      rejectPossessive(pattern, i);
    } else if (c === '}' || c === ']') {
      out += `\\${c}`;
      i++;
    } else if (c === '*' || c === '+' || c === '?') {
      out += c;
      i++;
      rejectPossessive(pattern, i);
    } else {
      out += c;
      i++;
    }
  }
  // `s` is already expressed by the rewritten `.`; `i` and `m` carry over as RegExp flags.
  return { source: out, flags: flags.replace('s', '') };
}

function rejectPossessive(pattern: string, i: number): void {
  if (pattern[i] === '+') throw new UnsupportedRegex('possessive quantifiers are not supported');
}

function translateGroupStart(pattern: string, i: number): [string, number] {
  if (pattern[i + 1] !== '?') return ['(', i + 1];
  const rest = pattern.slice(i + 2);
  if (rest.startsWith('#')) {
    const end = pattern.indexOf(')', i);
    if (end < 0) throw new SyntaxError('missing ) after (?# comment');
    return ['', end + 1];
  }
  if (rest.startsWith('P<')) return ['(?<', i + 4];
  for (const plain of [':', '=', '!', '<=', '<!']) {
    if (rest.startsWith(plain)) return [`(?${plain}`, i + 2 + plain.length];
  }
  if (/^<[A-Za-z_]/.test(rest)) return ['(?<', i + 3];
  throw new UnsupportedRegex(`the group (?${rest.slice(0, 2)}… is not supported`);
}

/** An escape outside (inClass=false) or inside a character class. */
function translateEscape(pattern: string, i: number, inClass: boolean): [string, number] {
  const c = pattern[i + 1];
  if (c === undefined) throw new SyntaxError('\\ at end of pattern');
  if (SIMPLE_ESCAPES.includes(c)) {
    if (inClass && c === 'B') throw new UnsupportedRegex('\\B inside a class is not supported');
    return [`\\${c}`, i + 2];
  }
  if (c >= '0' && c <= '9') {
    if (inClass) throw new UnsupportedRegex('octal escapes are not supported');
    return [`\\${c}`, i + 2];
  }
  switch (c) {
    case 'A':
      if (!inClass) return ['^', i + 2];
      break;
    case 'z':
      if (!inClass) return ['$', i + 2];
      break;
    case 'Z':
      if (!inClass) return ['(?=\\n?$)', i + 2];
      break;
    case 'h':
      return [inClass ? HORIZONTAL_SPACE : `[${HORIZONTAL_SPACE}]`, i + 2];
    case 'e':
      return ['\\x1b', i + 2];
    case 'a':
      return ['\\x07', i + 2];
    case 'x': {
      const braced = /^\{([0-9A-Fa-f]{1,6})\}/.exec(pattern.slice(i + 2));
      if (braced) return [`\\u{${braced[1]}}`, i + 2 + braced[0].length];
      const plain = /^[0-9A-Fa-f]{0,2}/.exec(pattern.slice(i + 2))![0];
      return [`\\u{${plain || '0'}}`, i + 2 + plain.length];
    }
    case 'p':
    case 'P': {
      const braced = /^\{\^?[A-Za-z_&]+\}/.exec(pattern.slice(i + 2));
      if (braced) {
        const negate = braced[0][1] === '^';
        const name = braced[0].slice(negate ? 2 : 1, -1);
        return [`\\${negate !== (c === 'P') ? 'P' : 'p'}{${name}}`, i + 2 + braced[0].length];
      }
      const single = pattern[i + 2];
      if (single && /[A-Za-z]/.test(single)) return [`\\${c}{${single}}`, i + 3];
      break;
    }
    case 'Q': {
      const end = pattern.indexOf('\\E', i + 2);
      const literal = pattern.slice(i + 2, end < 0 ? undefined : end);
      const escaped = [...literal].map((ch) => (SYNTAX_CHARS.includes(ch) || ch === '-' ? `\\${ch}` : ch));
      return [escaped.join(''), end < 0 ? pattern.length : end + 2];
    }
    case 'E':
      return ['', i + 2];
  }
  if (/[A-Za-z]/.test(c)) throw new UnsupportedRegex(`the escape \\${c} is not supported`);
  // Escaped punctuation (or any non-alphanumeric) is that character itself.
  if (SYNTAX_CHARS.includes(c) || (inClass && c === '-')) return [`\\${c}`, i + 2];
  return [c, i + 2];
}

function translateClass(pattern: string, start: number): [string, number] {
  let i = start + 1;
  let out = '[';
  if (pattern[i] === '^') {
    out += '^';
    i++;
  }
  // A `]` right after `[` or `[^` is a literal in PCRE.
  if (pattern[i] === ']') {
    out += '\\]';
    i++;
  }
  while (i < pattern.length && pattern[i] !== ']') {
    const c = pattern[i]!;
    if (c === '\\') {
      const [text, next] = translateEscape(pattern, i, true);
      out += text;
      i = next;
    } else if (c === '[') {
      const posix = /^\[:(\^?)([a-z]+):\]/.exec(pattern.slice(i));
      if (posix) {
        const ranges = POSIX_CLASSES[posix[2]!];
        if (!ranges || posix[1])
          throw new UnsupportedRegex(`the class [:${posix[1]}${posix[2]}:] is not supported`);
        out += ranges;
        i += posix[0].length;
      } else {
        out += '\\[';
        i++;
      }
    } else if (c === '{' || c === '}' || c === '(' || c === ')' || c === '|' || c === '/') {
      out += `\\${c}`;
      i++;
    } else {
      out += c;
      i++;
    }
  }
  if (i >= pattern.length) throw new SyntaxError('missing terminating ] for character class');
  return [`${out}]`, i + 1];
}
