/**
 * Per-request evaluation: which blocks hold, and the options that result. Conditions were
 * compiled at parse time; here one pass over the blocks in id order decides each block once
 * (a parent and a previous else-branch always have smaller ids), and only blocks whose parent
 * holds and whose previous branch failed run their test at all.
 */

import type { Condition } from './condition.js';
import type { Facts } from './facts.js';
import type { ConditionBlock, Config, Options, SourceLocation } from './model.js';
import { OptionReader } from './option-reader.js';
import type { ConfigValue, OptionSource } from './values.js';

// A block's state stays 0 when it was skipped: parent not true, or an earlier branch taken.
const FALSE = 1;
const TRUE = 2;

/**
 * Ids of the blocks whose conditions hold, parents first, in file order. `conditionOf` may
 * give a block another condition than the parsed one (ConditionCaptures).
 */
export function matchingBlocks(
  config: Config,
  facts: Facts,
  conditionOf: (block: ConditionBlock) => Condition | undefined = (block) => block.condition,
): number[] {
  const blocks = config.blocks;
  const state = new Uint8Array(blocks.length + 1);
  const matched: number[] = [];
  for (const block of blocks) {
    if (block.parent && state[block.parent.id] !== TRUE) continue;
    // an else branch runs only when the previous branch was evaluated and false
    if (block.prev && state[block.prev.id] !== FALSE) continue;
    const condition = conditionOf(block);
    const holds = condition ? condition.test(facts) : true;
    state[block.id] = holds ? TRUE : FALSE;
    if (holds) matched.push(block.id);
  }
  return matched;
}

const cacheLimit = 1024;
const cache = new WeakMap<Config, Map<string, Options>>();

/**
 * The global options overlaid by each listed block's own assignments, in order; last wins.
 * Results are cached per set of ids (a site has few distinct combinations), so treat the
 * returned Map as read-only.
 */
export function effectiveOptions(
  config: Config,
  blockIds: readonly number[],
): ReadonlyMap<string, ConfigValue> {
  if (blockIds.length === 0) return config.global;
  let perConfig = cache.get(config);
  if (!perConfig) {
    perConfig = new Map();
    cache.set(config, perConfig);
  }
  const key = blockIds.join(',');
  const hit = perConfig.get(key);
  if (hit) return hit;
  const options: Options = new Map(config.global);
  for (const id of blockIds) {
    const block = config.blocks[id - 1];
    if (!block) throw new RangeError(`no condition block ${id}`);
    for (const [name, value] of block.options) options.set(name, value);
  }
  if (perConfig.size >= cacheLimit) perConfig.clear();
  perConfig.set(key, options);
  return options;
}

/**
 * Where each effective option was assigned, for the same overlay as effectiveOptions: lets a
 * consumer report a bad value at the line that set it (see toBool / toInt), and know which
 * block it came from (mod_rewrite takes its rule lists from one scope, and `%n` from it).
 */
export function effectiveSources(config: Config, blockIds: readonly number[]): Map<string, OptionSource> {
  const sources = new Map<string, OptionSource>();
  const add = (from: ReadonlyMap<string, SourceLocation>, block: number) => {
    for (const [key, at] of from) sources.set(key, { key, file: at.file, line: at.line, block });
  };
  add(config.globalSources, 0);
  for (const id of blockIds) {
    const block = config.blocks[id - 1];
    if (!block) throw new RangeError(`no condition block ${id}`);
    add(block.sources, id);
  }
  return sources;
}

/** The effective options of these blocks (outermost first), as a reader that names lines. */
export function readerFor(config: Config, ids: number[]): OptionReader {
  return new OptionReader(effectiveOptions(config, ids), effectiveSources(config, ids), config.file);
}

/** The ids of a block and its ancestors, outermost first: the options that block sees. */
export function lineage(block: ConditionBlock): number[] {
  const ids: number[] = [];
  for (let b: ConditionBlock | undefined = block; b; b = b.parent) ids.unshift(b.id);
  return ids;
}
