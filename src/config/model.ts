/**
 * The parsed configuration: global options plus the tree of condition blocks, shaped for
 * per-request evaluation (see evaluate.ts): blocks sit in one array in file order, so one
 * pass decides all of them, parents and previous else-branches always coming first.
 */
import type { Condition } from './condition.js';
import type { ConfigValue } from './values.js';

export interface SourceLocation {
  readonly file: string;
  readonly line: number;
}

/** Options of one scope, in lighttpd's order (a `+=` moves the key to the end, as lighttpd does). */
export type Options = Map<string, ConfigValue>;

export interface ConditionBlock {
  /** lighttpd's context index: 1, 2, … in file order (the "# block N" of `lighttpd -p`). */
  readonly id: number;
  /** The enclosing block; undefined for a top-level block. */
  readonly parent: ConditionBlock | undefined;
  /** Undefined for a plain `else { }`. */
  readonly condition: Condition | undefined;
  /** The branch this one is the `else` of. */
  prev: ConditionBlock | undefined;
  /** The `else` branch following this one. */
  next: ConditionBlock | undefined;
  readonly children: ConditionBlock[];
  /** Assignments inside the block, values as evaluated at parse time. */
  readonly options: Options;
  /** Where each option of this block was (last) assigned. */
  readonly sources: Map<string, SourceLocation>;
  /** Where the block starts. */
  readonly location: SourceLocation;
}

export interface Config {
  /** The main file, or the name given to parseConfigString. */
  readonly file: string;
  /** Top-level options, including var.* (and the predefined var.CWD, var.PID). */
  readonly global: Options;
  readonly globalSources: Map<string, SourceLocation>;
  /** Top-level blocks, in file order. */
  readonly roots: ConditionBlock[];
  /** Every block in id order: blocks[i].id === i + 1. */
  readonly blocks: ConditionBlock[];
}
