/**
 * lighttpd.conf parser (configparser.y + configfile.c of lighttpd 1.4.69), recursive descent
 * over the tokenizer. Like lighttpd it evaluates as it reads: variables, `+` and `+=` are
 * resolved when the statement is parsed, includes are read at the point they appear, and a
 * block's `+=` copies the value visible from the enclosing blocks at that moment.
 */
import { dirname, resolve } from 'node:path';
import { ConfigBuilder } from './builder.js';
import { type ConditionOp, compileCondition } from './condition.js';
import { ConfigError } from './errors.js';
import type { ConditionBlock, Config, SourceLocation } from './model.js';
import type { Token, Tokenizer, TokenType } from './tokenizer.js';
import { ConfigArray, type ConfigEntry, type ConfigValue, mergeValues } from './values.js';

export interface ParseOptions {
  /** The environment seen by `env.NAME` and by include_shell commands (default process.env). */
  env?: Record<string, string | undefined>;
  /** The start-up directory: var.CWD, and the base of `./` and `../` includes (default process.cwd()). */
  cwd?: string;
  /** var.PID (default process.pid). */
  pid?: number;
}

export interface ParseStringOptions extends ParseOptions {
  /** The name used in error messages and as the base of relative includes (default "<string>"). */
  file?: string;
}

/** Parses a lighttpd.conf file and everything it includes. Throws ConfigError. */
export function parseConfigFile(path: string, options: ParseOptions = {}): Config {
  const cwd = options.cwd ?? process.cwd();
  const file = resolve(cwd, path);
  const builder = new ConfigBuilder(file, dirname(file), options);
  builder.parseFile(file, { file, line: 0 });
  return builder.finish();
}

/** Parses config text; relative includes resolve against the directory of `file` (or cwd). */
export function parseConfigString(text: string, options: ParseStringOptions = {}): Config {
  const cwd = options.cwd ?? process.cwd();
  const file = options.file ?? '<string>';
  const base = options.file ? dirname(resolve(cwd, options.file)) : cwd;
  const builder = new ConfigBuilder(file, base, options);
  builder.parseSource(text, file);
  return builder.finish();
}

/** Reads one file (or include_shell output) into the shared builder. */
const ASSIGN_OPS: ReadonlySet<TokenType> = new Set(['assign', 'append', 'force-assign']);

export class SourceParser {
  private peeked: Token | undefined;

  constructor(
    private readonly config: ConfigBuilder,
    private readonly tokens: Tokenizer,
  ) {}

  private get source(): string {
    return this.tokens.source;
  }

  private peek(): Token {
    this.peeked ??= this.tokens.next();
    return this.peeked;
  }

  private next(): Token {
    const token = this.peek();
    this.peeked = undefined;
    return token;
  }

  private fail(reason: string, line: number): never {
    throw new ConfigError(reason, this.source, line);
  }

  private at(token: Token): SourceLocation {
    return { file: this.source, line: token.line };
  }

  private expect(type: TokenType, what: string): Token {
    const token = this.next();
    if (token.type !== type) this.fail(`expected ${what}, found ${describe(token)}`, token.line);
    return token;
  }

  parseAll(): void {
    this.statements(undefined);
  }

  /** Statements until EOF, or until the `}` closing the block opened at `open`. */
  private statements(open: Token | undefined): void {
    for (;;) {
      const token = this.peek();
      switch (token.type) {
        case 'eof':
          if (open) this.fail(`missing '}' for the block opened on line ${open.line}`, token.line);
          return;
        case 'rcurly':
          if (open) return;
          this.fail("unexpected '}' without an open block", token.line);
          break;
        case 'eol':
          this.next();
          break;
        case 'key':
          this.assignment();
          break;
        case 'global':
          this.globalBlock();
          break;
        case 'include':
        case 'include_shell': {
          this.next();
          const target = this.stringOperand(this.peek());
          if (token.type === 'include') this.config.include(target, this.at(token));
          else this.config.includeShell(target, this.at(token));
          break;
        }
        case 'dollar':
          this.conditionChain();
          break;
        case 'else':
          this.fail("'else' without a preceding condition block", token.line);
          break;
        default:
          this.fail(`unexpected ${describe(token)}`, token.line);
      }
    }
  }

  private assignment(): void {
    const keyToken = this.next();
    const key = qualify(keyToken.text);
    const op = this.next();
    if (!ASSIGN_OPS.has(op.type)) {
      this.fail(`missing assignment operator ('=') after ${keyToken.text}, found ${describe(op)}`, op.line);
    }
    if (key.startsWith('env.')) this.fail(`setting env variable is not supported: ${key}`, keyToken.line);
    const value = this.expression();
    const scope = this.config.current;
    const at = this.at(keyToken);
    if (op.type === 'assign') {
      if (scope.options.has(key)) {
        const first = scope.sources.get(key);
        const where = first ? ` (first set at ${first.file}:${first.line})` : '';
        this.fail(`duplicate config variable ${key}${where}; use := to replace it`, keyToken.line);
      }
      scope.options.set(key, value);
    } else if (op.type === 'force-assign') {
      scope.options.set(key, value);
    } else {
      // `+=`: append to this block's value, or to a copy of the value seen from outside.
      const own = scope.options.get(key);
      const base = own ?? this.config.lookup(key, scope.outer);
      let merged = value;
      if (base !== undefined) {
        try {
          merged = mergeValues(base, value);
        } catch (error) {
          this.fail(`${key} += …: ${(error as Error).message}`, op.line);
        }
      }
      scope.options.delete(key); // lighttpd re-inserts the key at the end
      scope.options.set(key, merged);
    }
    scope.sources.set(key, at);
  }

  private expression(): ConfigValue {
    let value = this.value();
    while (this.peek().type === 'plus') {
      const plus = this.next();
      const right = this.value();
      try {
        value = mergeValues(value, right);
      } catch (error) {
        this.fail((error as Error).message, plus.line);
      }
    }
    return value;
  }

  private value(): ConfigValue {
    const token = this.next();
    switch (token.type) {
      case 'string':
        return token.text;
      case 'integer':
        return parseInteger(token.text, () => this.fail(`error parsing number: '${token.text}'`, token.line));
      case 'key':
        return this.variable(token);
      case 'lparen':
        return this.array();
      default:
        return this.fail(`expected a value, found ${describe(token)}`, token.line);
    }
  }

  private variable(token: Token): ConfigValue {
    const key = qualify(token.text);
    if (key.startsWith('env.')) {
      const value = this.config.env[key.slice(4)];
      if (value === undefined) this.fail(`undefined env variable: ${key.slice(4)}`, token.line);
      return value;
    }
    const value = this.config.lookup(key);
    if (value === undefined) this.fail(`undefined config variable: ${key}`, token.line);
    return value;
  }

  /** After `(`: elements separated by commas (extra commas allowed), `"key" => value` or `value`. */
  private array(): ConfigArray {
    const entries: ConfigEntry[] = [];
    if (this.peek().type === 'rparen') {
      this.next();
      return new ConfigArray(entries);
    }
    for (;;) {
      entries.push(this.element(entries));
      const token = this.next();
      if (token.type === 'rparen') return new ConfigArray(entries);
      if (token.type !== 'comma') this.fail(`expected , or ) in list, found ${describe(token)}`, token.line);
      while (this.peek().type === 'comma') this.next();
      if (this.peek().type === 'rparen') {
        this.next();
        return new ConfigArray(entries);
      }
    }
  }

  private element(entries: readonly ConfigEntry[]): ConfigEntry {
    const first = this.expression();
    const arrow = this.peek();
    if (arrow.type !== 'arrow') return { key: undefined, value: first };
    this.next();
    const key = this.keyOperand(first, arrow);
    if (entries.some((e) => e.key === key)) this.fail(`duplicate array-key: ${key}`, arrow.line);
    return { key, value: this.expression() };
  }

  private keyOperand(value: ConfigValue, token: Token): string {
    if (typeof value === 'string') return value;
    if (typeof value === 'number') return String(value);
    return this.fail('an array key must be a string', token.line);
  }

  /** lighttpd's `stringop`: an expression that must be a string (an integer is written out). */
  private stringOperand(at: Token): string {
    const value = this.expression();
    if (typeof value === 'string') return value;
    if (typeof value === 'number') return String(value);
    return this.fail('operand must be a string', at.line);
  }

  private globalBlock(): void {
    this.next();
    const open = this.expect('lcurly', "'{' after global");
    this.config.stack.push(this.config.global);
    this.config.globalDepth++;
    this.statements(open);
    this.next(); // the `}`
    this.config.globalDepth--;
    this.config.close();
  }

  /** `$…{ }` followed by any number of `else $…{ }` and at most one final `else { }`. */
  private conditionChain(): void {
    let branch = this.conditionBlock(undefined);
    for (;;) {
      const token = this.peek();
      if (token.type === 'eof') return;
      if (token.type !== 'eol')
        this.fail(`expected a new line after '}', found ${describe(token)}`, token.line);
      this.next();
      if (this.peek().type !== 'else') return;
      const elseToken = this.next();
      if (!branch.condition) {
        this.fail('unreachable condition following else catch-all', elseToken.line);
      }
      branch = this.conditionBlock(branch);
    }
  }

  /** One block; `elseOf` is the previous branch when this follows `else`. */
  private conditionBlock(elseOf: ConditionBlock | undefined): ConditionBlock {
    const start = this.peek();
    if (this.config.globalDepth > 0) {
      this.fail('conditionals are not allowed inside a global { ... } block', start.line);
    }
    const condition = elseOf && start.type === 'lcurly' ? undefined : this.condition();
    const open = this.expect('lcurly', "'{'");
    const block = this.config.openCondition(condition, this.at(start), elseOf);
    this.statements(open);
    this.next(); // the `}`
    this.config.close();
    return block;
  }

  private condition(): ReturnType<typeof compileCondition> {
    const dollar = this.expect('dollar', "'$' starting a condition");
    const object = this.expect('name', 'HTTP, REQUEST_HEADER or SERVER after $');
    this.expect('lbracket', "'['");
    const name = this.stringOperand(this.peek());
    this.expect('rbracket', "']'");
    const op = this.expect('cond-op', 'a condition operator');
    const rvalue = this.expression();
    if (typeof rvalue !== 'string') this.fail('the right-hand side of a condition must be a string', op.line);
    try {
      return compileCondition(object.text, name, op.text as ConditionOp, rvalue);
    } catch (error) {
      return this.fail((error as Error).message, dollar.line);
    }
  }
}

/** A key without a dot is a user variable: `foo` means `var.foo`. */
function qualify(key: string): string {
  return key.includes('.') ? key : `var.${key}`;
}

const INT64_MAX = 2n ** 63n - 1n;

/** strtol into lighttpd's C int: values beyond 64 bits are an error, the rest wrap to 32 bits. */
function parseInteger(text: string, fail: () => never): number {
  const big = BigInt(text);
  if (big > INT64_MAX) fail();
  return Number(BigInt.asIntN(32, big));
}

function describe(token: Token): string {
  switch (token.type) {
    case 'string':
      return `string "${token.text}"`;
    case 'eol':
      return 'end of line';
    case 'eof':
      return 'end of file';
    default:
      return `'${token.text}'`;
  }
}
