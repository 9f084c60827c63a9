/**
 * The parsed configuration as plain JSON (`koa-lighty -p`): same meaning as `lighttpd -p`,
 * in a shape tools and tests can compare.
 */
import type { ConditionBlock, Config, Options } from './model.js';
import { ConfigArray, type ConfigValue } from './values.js';

export type JsonValue = string | number | JsonValue[] | { [key: string]: JsonValue };

export interface PrintedBlock {
  id: number;
  /** `$HTTP["url"] =^ "/dl/"`, or `else`. */
  condition: string;
  /** True for an `else …` branch: it applies only when the branch before it did not. */
  else: boolean;
  options: Record<string, JsonValue>;
  blocks: PrintedBlock[];
}

export interface PrintedConfig {
  options: Record<string, JsonValue>;
  blocks: PrintedBlock[];
}

export interface PrintOptions {
  /** Leave out var.CWD and var.PID, which differ between runs. */
  omitPredefined?: boolean;
}

export function printConfig(config: Config, print: PrintOptions = {}): PrintedConfig {
  const options = printOptions(config.global);
  if (print.omitPredefined) {
    delete options['var.CWD'];
    delete options['var.PID'];
  }
  return { options, blocks: config.roots.map(printBlock) };
}

function printBlock(block: ConditionBlock): PrintedBlock {
  return {
    id: block.id,
    condition: block.condition ? block.condition.text : 'else',
    else: block.prev !== undefined,
    options: printOptions(block.options),
    blocks: block.children.map(printBlock),
  };
}

function printOptions(options: Options): Record<string, JsonValue> {
  const out: Record<string, JsonValue> = {};
  for (const [key, value] of options) out[key] = printValue(value);
  return out;
}

/**
 * Lists become JSON arrays and keyed arrays JSON objects. An object would reorder keys that
 * look like array indexes ("0", "404") and cannot hold a mix of keyed and plain entries; such
 * arrays print as `{ "$entries": [[key or null, value], …] }` so order is never lost.
 */
export function printValue(value: ConfigValue): JsonValue {
  if (!(value instanceof ConfigArray)) return value;
  if (value.isList) return value.values().map(printValue);
  const keys = value.keys();
  if (value.isKeyed && !keys.some((k) => /^(0|[1-9]\d*)$/.test(k))) {
    const out: Record<string, JsonValue> = {};
    for (const { key, value: v } of value.entries) out[key!] = printValue(v);
    return out;
  }
  return { $entries: value.entries.map((e) => [e.key ?? null, printValue(e.value)] as unknown as JsonValue) };
}
