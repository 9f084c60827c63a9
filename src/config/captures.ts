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
  constructor(config: Config, keys: readonly string[], usesCaptures: (target: string) => boolean) {
    for (const block of config.blocks) {
      if (!block.condition || !blockUsesCaptures(block, keys, usesCaptures)) continue;
      this.#conditions.set(block.id, capturingCondition(block.condition));
    }
  }

  /** The condition to evaluate for a block (for matchingBlocks). */
  readonly conditionOf = (block: ConditionBlock): Condition | undefined =>
    this.#conditions.get(block.id) ?? block.condition;

  /** Whether any block's targets use `%n` (else there is nothing to keep per request). */
  get used(): boolean {
    return this.#conditions.size > 0;
  }

  /**
   * The captures of block `id`'s condition for these facts; undefined for the global scope (0),
   * a block whose targets do not use them, or a condition without captures.
   */
  of(id: number, facts: Facts): RegExpExecArray | undefined {
    return this.#conditions.get(id)?.captures?.(facts);
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
