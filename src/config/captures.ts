/**
 * `%0`…`%9` in url.redirect and url.rewrite-* targets: the captures of the condition of the
 * block the rule list is assigned in (lighttpd's config_capture: that block's own condition,
 * not an outer one; none for the global scope, an `else` or a `!~`). Such a block's condition
 * is evaluated as a regex even if it is a plain comparison (capturingCondition), as lighttpd
 * does once it knows the captures are used.
 */
import { type Condition, capturingCondition } from './condition.js';
import type { Facts } from './facts.js';
import type { ConditionBlock, Config } from './model.js';
import { ConfigArray } from './values.js';

export class ConditionCaptures {
  readonly #conditions = new Map<number, Condition>();

  /**
   * @param keys           the options whose `key => target` pairs may refer to `%n`
   * @param usesCaptures   whether one target does (rule-substitution's usesConditionCaptures)
   */
  constructor(
    private readonly config: Config,
    keys: readonly string[],
    usesCaptures: (target: string) => boolean,
  ) {
    for (const block of config.blocks) {
      if (!block.condition || !blockUsesCaptures(block, keys, usesCaptures)) continue;
      this.#conditions.set(block.id, capturingCondition(block.condition));
    }
  }

  /** The condition to evaluate for a block (for matchingBlocks). */
  readonly conditionOf = (block: ConditionBlock): Condition | undefined =>
    this.#conditions.get(block.id) ?? block.condition;

  /** The captures of block `id`'s condition for these facts; undefined for 0 (global) or none. */
  of(id: number, facts: Facts): RegExpExecArray | undefined {
    if (id === 0) return undefined;
    const block = this.config.blocks[id - 1];
    if (!block) return undefined;
    return this.conditionOf(block)?.captures?.(facts);
  }
}

function blockUsesCaptures(
  block: ConditionBlock,
  keys: readonly string[],
  usesCaptures: (target: string) => boolean,
): boolean {
  return keys.some((key) => {
    const value = block.options.get(key);
    return (
      value instanceof ConfigArray &&
      value.entries.some((entry) => typeof entry.value === 'string' && usesCaptures(entry.value))
    );
  });
}
