/**
 * The state of one parse, shared by the main file and everything it includes: the scopes
 * statements write into, variable lookup outward through enclosing blocks (lighttpd's
 * dc->parent), `include` and `include_shell`, and the condition blocks in file order.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { compileCondition } from './condition.js';
import { ConfigError } from './errors.js';
import { expandGlob, hasGlobChars } from './include-glob.js';
import type { ConditionBlock, Config, Options, SourceLocation } from './model.js';
import { type ParseOptions, SourceParser } from './parser.js';
import { Tokenizer } from './tokenizer.js';
import type { ConfigValue } from './values.js';

/** One scope statements write into: the global scope or a condition block. */
export interface Scope {
  readonly options: Options;
  readonly sources: Map<string, SourceLocation>;
  readonly block: ConditionBlock | undefined;
  /** Where variable lookups continue (lighttpd's dc->parent). */
  readonly outer: Scope | undefined;
}

/** The state shared by the main file and everything it includes. */
export class ConfigBuilder {
  readonly global: Scope = { options: new Map(), sources: new Map(), block: undefined, outer: undefined };
  readonly blocks: ConditionBlock[] = [];
  readonly roots: ConditionBlock[] = [];
  /** Plain condition blocks by parent + condition: lighttpd reuses a block for a repeated condition. */
  readonly blocksByKey = new Map<string, ConditionBlock>();
  readonly scopes = new Map<ConditionBlock, Scope>();
  /** The scope stack; statements go into the last one. */
  readonly stack: Scope[] = [this.global];
  /** Depth of `global { }` blocks being read, where conditions are not allowed. */
  globalDepth = 0;
  readonly env: Record<string, string | undefined>;
  readonly cwd: string;

  constructor(
    readonly file: string,
    /** Directory of the main file: the base of relative includes. */
    readonly basedir: string,
    options: ParseOptions,
  ) {
    this.env = options.env ?? process.env;
    this.cwd = options.cwd ?? process.cwd();
    const at = { file, line: 0 };
    this.define('var.CWD', this.cwd, at);
    this.define('var.PID', options.pid ?? process.pid, at);
  }

  private define(key: string, value: ConfigValue, at: SourceLocation): void {
    this.global.options.set(key, value);
    this.global.sources.set(key, at);
  }

  get current(): Scope {
    return this.stack[this.stack.length - 1]!;
  }

  finish(): Config {
    return {
      file: this.file,
      global: this.global.options,
      globalSources: this.global.sources,
      roots: this.roots,
      blocks: this.blocks,
    };
  }

  parseSource(text: string, source: string): void {
    new SourceParser(this, new Tokenizer(text, source)).parseAll();
  }

  parseFile(path: string, from: SourceLocation): void {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      throw new ConfigError(
        `opening configfile ${path} failed: ${(error as Error).message}`,
        from.file,
        from.line,
      );
    }
    this.parseSource(text, path);
  }

  /** `include "fn"`: relative to the main file's directory; `./` and `../` to the start-up directory. */
  include(name: string, from: SourceLocation): void {
    const relativeToCwd = name.startsWith('./') || name.startsWith('../');
    const path = resolve(relativeToCwd ? this.cwd : this.basedir, name);
    const paths = hasGlobChars(path) ? expandGlob(path) : existsSync(path) ? [path] : [];
    if (paths.length === 0 && !hasGlobChars(path)) {
      throw new ConfigError(`include file not found: ${path}`, from.file, from.line);
    }
    for (const p of paths) this.parseFile(p, from);
  }

  /** `include_shell "cmd"`: run by /bin/sh in the main file's directory, its output parsed as config. */
  includeShell(command: string, from: SourceLocation): void {
    let output: string;
    try {
      output = execFileSync('/bin/sh', ['-c', command], {
        cwd: this.basedir,
        env: this.env as NodeJS.ProcessEnv,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        maxBuffer: 32 * 1024 * 1024,
      });
    } catch (error) {
      const failure = error as { status?: number | null; stderr?: string; message: string };
      const detail = failure.stderr?.trim() || failure.message;
      throw new ConfigError(
        `command "${command}" exited non-zero: ${failure.status ?? '?'}${detail ? ` (${detail})` : ''}`,
        from.file,
        from.line,
      );
    }
    this.parseSource(output, command);
  }

  /** configparser_get_variable: the innermost scope holding the key, searching outward. */
  lookup(key: string, from: Scope | undefined = this.current): ConfigValue | undefined {
    for (let scope: Scope | undefined = from; scope; scope = scope.outer) {
      const value = scope.options.get(key);
      if (value !== undefined) return value;
    }
    return undefined;
  }

  openCondition(
    condition: ReturnType<typeof compileCondition> | undefined,
    at: SourceLocation,
    elseOf?: ConditionBlock,
  ): ConditionBlock {
    const outer = this.current;
    const parent = outer.block;
    const key = condition ? `${parent?.id ?? 0} ${condition.text}` : undefined;
    const existing = key ? this.blocksByKey.get(key) : undefined;
    if (existing && elseOf) throw new ConfigError('unreachable else condition', at.file, at.line);
    if (existing) {
      this.stack.push(this.scopes.get(existing)!);
      return existing;
    }
    const block: ConditionBlock = {
      id: this.blocks.length + 1,
      parent,
      condition,
      prev: elseOf,
      next: undefined,
      children: [],
      options: new Map(),
      sources: new Map(),
      location: at,
    };
    if (elseOf) elseOf.next = block;
    // An else-if is never reused by a later identical condition (lighttpd renames its key).
    else if (key) this.blocksByKey.set(key, block);
    this.blocks.push(block);
    (parent ? parent.children : this.roots).push(block);
    const scope: Scope = { options: block.options, sources: block.sources, block, outer };
    this.scopes.set(block, scope);
    this.stack.push(scope);
    return block;
  }

  close(): void {
    this.stack.pop();
  }
}
