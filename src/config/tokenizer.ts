/**
 * lighttpd.conf tokenizer, after configfile.c (config_tokenizer) of lighttpd 1.4.69.
 * It is context-sensitive the way lighttpd's is: after `$` it reads a condition (`==`, `!~`,
 * names like HTTP), inside `( … )` newlines are insignificant and `=` must be `=>`.
 */
import { ConfigError } from './errors.js';

export type TokenType =
  | 'string'
  | 'integer'
  | 'key'
  | 'assign' // =
  | 'append' // +=
  | 'force-assign' // :=
  | 'plus'
  | 'lparen'
  | 'rparen'
  | 'comma'
  | 'arrow' // =>
  | 'dollar'
  | 'name' // HTTP / REQUEST_HEADER / SERVER after `$`
  | 'lbracket'
  | 'rbracket'
  | 'lcurly'
  | 'rcurly'
  | 'cond-op' // == != =~ !~ =^ =$
  | 'eol'
  | 'include'
  | 'include_shell'
  | 'global'
  | 'else'
  | 'eof';

export interface Token {
  readonly type: TokenType;
  /** String tokens: the value with `\"` unescaped; others: the source text. */
  readonly text: string;
  readonly line: number;
}

const KEYWORDS: Record<string, TokenType> = {
  include: 'include',
  include_shell: 'include_shell',
  global: 'global',
  else: 'else',
};

const isDigit = (c: string) => c >= '0' && c <= '9';
const isAlpha = (c: string) => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
const isKeyChar = (c: string) => isAlpha(c) || isDigit(c) || c === '.' || c === '_' || c === '-';

export class Tokenizer {
  private offset = 0;
  private line = 1;
  private parens = 0;
  private inCondition = false;
  /** Set by a `}` followed by more text on its line: that text starts a new statement. */
  private pendingEol = false;
  private previous: TokenType | undefined;

  constructor(
    private readonly input: string,
    /** Names the source in errors: a file path or an include_shell command. */
    readonly source: string,
  ) {}

  /** The line the tokenizer is at; used for errors at the end of input. */
  get currentLine(): number {
    return this.line;
  }

  next(): Token {
    const token = this.read();
    this.previous = token.type;
    return token;
  }

  private fail(reason: string): never {
    throw new ConfigError(reason, this.source, this.line);
  }

  private token(type: TokenType, text: string, line = this.line): Token {
    return { type, text, line };
  }

  private read(): Token {
    if (this.pendingEol) {
      this.pendingEol = false;
      return this.token('eol', '(EOL)');
    }
    const s = this.input;
    while (this.offset < s.length) {
      const c = s[this.offset]!;
      const c1 = s[this.offset + 1] ?? '';
      switch (c) {
        case ' ':
        case '\t':
        case '\u00a0': // lighttpd treats U+00A0 NO-BREAK SPACE as whitespace (pasted configs)
          this.offset++;
          continue;
        case '#':
          this.skipComment();
          continue;
        case '\r':
        case '\n': {
          // One EOL for a run of newlines, blank and comment lines.
          const line = this.line;
          this.skipBlankLines();
          if (this.parens === 0) return this.token('eol', '(EOL)', line);
          continue;
        }
        case ',':
          this.offset++;
          // Outside parentheses lighttpd silently skips a comma.
          if (this.parens > 0) return this.token('comma', ',');
          continue;
        case '=':
          if (this.parens > 0) {
            if (c1 !== '>') this.fail('use => for assignments in arrays');
            this.offset += 2;
            return this.token('arrow', '=>');
          }
          if (this.inCondition) {
            if (!'=~^$'.includes(c1) || c1 === '') {
              this.fail('only == =~ =^ =$ != !~ are allowed in the condition');
            }
            return this.conditionOperator(c + c1);
          }
          this.offset++;
          return this.token('assign', '=');
        case '!':
          if (!this.inCondition) this.fail('unexpected exclamation-mark: !');
          if (c1 !== '=' && c1 !== '~') this.fail('only !~ and != are allowed in the condition');
          return this.conditionOperator(c + c1);
        case '"':
          return this.string();
        case '(':
          this.offset++;
          this.parens++;
          return this.token('lparen', '(');
        case ')':
          if (this.parens === 0) this.fail('close-parens without open-parens');
          this.offset++;
          this.parens--;
          return this.token('rparen', ')');
        case '$':
          this.offset++;
          this.inCondition = true;
          return this.token('dollar', '$');
        case '+':
          if (c1 === '=') {
            this.offset += 2;
            return this.token('append', '+=');
          }
          this.offset++;
          return this.token('plus', '+');
        case ':':
          if (c1 !== '=') this.fail("unexpected character ':'");
          this.offset += 2;
          return this.token('force-assign', ':=');
        case '{':
          this.offset++;
          return this.token('lcurly', '{');
        case '}':
          return this.closeCurly();
        case '[':
          this.offset++;
          return this.token('lbracket', '[');
        case ']':
          this.offset++;
          return this.token('rbracket', ']');
        default:
          return this.word(c);
      }
    }
    return this.token('eof', '(EOF)');
  }

  private conditionOperator(op: string): Token {
    this.offset += 2;
    this.inCondition = false;
    return this.token('cond-op', op);
  }

  private skipComment(): void {
    const s = this.input;
    while (this.offset < s.length && s[this.offset] !== '\n' && s[this.offset] !== '\r') this.offset++;
  }

  private skipBlankLines(): void {
    const s = this.input;
    while (this.offset < s.length) {
      const c = s[this.offset]!;
      if (c === '\r' || c === '\n') {
        this.offset += c === '\r' && s[this.offset + 1] === '\n' ? 2 : 1;
        this.line++;
      } else if (c === '#') {
        this.skipComment();
      } else if (c === ' ' || c === '\t') {
        this.offset++;
      } else {
        break;
      }
    }
  }

  /** Only `\"` is an escape; every other backslash is kept, so `"\.jpg$"` reaches PCRE as written. */
  private string(): Token {
    if (this.previous === 'string') {
      this.fail("strings may be combined with '+' or separated with ',' or '=>' in lists");
    }
    const s = this.input;
    const line = this.line;
    let value = '';
    let i = this.offset + 1;
    for (; i < s.length && s[i] !== '"'; i++) {
      if (s[i] === '\\' && s[i + 1] === '"') i++;
      else if (s[i] === '\n') this.line++;
      value += s[i];
    }
    if (i >= s.length) throw new ConfigError('missing closing quote', this.source, line);
    this.offset = i + 1;
    return this.token('string', value, line);
  }

  private closeCurly(): Token {
    const s = this.input;
    const line = this.line;
    this.offset++;
    for (let i = this.offset; i < s.length; i++) {
      const c = s[i]!;
      if (c === '\r' || c === '\n' || c === '#') break;
      if (c !== ' ' && c !== '\t') {
        this.pendingEol = true;
        break;
      }
    }
    return this.token('rcurly', '}', line);
  }

  private word(c: string): Token {
    const s = this.input;
    const start = this.offset;
    if (this.inCondition) {
      let end = start;
      while (end < s.length && (isAlpha(s[end]!) || s[end] === '_')) end++;
      if (end === start) this.fail(`invalid character in condition: ${JSON.stringify(c)}`);
      this.offset = end;
      return this.token('name', s.slice(start, end));
    }
    if (isDigit(c)) {
      let end = start + 1;
      while (end < s.length && isDigit(s[end]!)) end++;
      this.offset = end;
      return this.token('integer', s.slice(start, end));
    }
    let end = start;
    while (end < s.length && isKeyChar(s[end]!)) end++;
    if (end === start) this.fail(`invalid character in variable name: ${JSON.stringify(c)}`);
    this.offset = end;
    const text = s.slice(start, end);
    const keyword = KEYWORDS[text];
    if (keyword) return this.token(keyword, text);
    if (this.previous === 'key') {
      this.fail("missing assignment operator ('=') or string concat operator ('+') ?");
    }
    return this.token('key', text);
  }
}
