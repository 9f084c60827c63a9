/**
 * Values as lighttpd's config parser holds them. The language has strings, integers and
 * arrays only; booleans and numbers-in-strings are interpreted by whoever reads an option,
 * so they are kept as written and `toBool` / `toInt` do the interpreting.
 */

import { ConfigError } from './errors.js';

export type ConfigValue = string | number | ConfigArray;

export interface ConfigEntry {
  /** The `"key" =>` part; undefined for a plain list element. */
  readonly key: string | undefined;
  readonly value: ConfigValue;
}

/**
 * `( … )`: an ordered list of entries, each optionally keyed. Order is meaningful (fastcgi.server
 * backends, mimetype.assign with < 16 entries), so this is not a plain object.
 */
export class ConfigArray {
  readonly entries: readonly ConfigEntry[];

  constructor(entries: readonly ConfigEntry[] = []) {
    this.entries = entries;
  }

  get length(): number {
    return this.entries.length;
  }

  /** Every entry has a key (`( "k" => v, … )`); true for `()`. */
  get isKeyed(): boolean {
    return this.entries.every((e) => e.key !== undefined);
  }

  /** No entry has a key (`( "a", "b" )`); true for `()`. */
  get isList(): boolean {
    return this.entries.every((e) => e.key === undefined);
  }

  get(key: string): ConfigValue | undefined {
    return this.entries.find((e) => e.key === key)?.value;
  }

  has(key: string): boolean {
    return this.entries.some((e) => e.key === key);
  }

  keys(): string[] {
    return this.entries.flatMap((e) => (e.key === undefined ? [] : [e.key]));
  }

  values(): ConfigValue[] {
    return this.entries.map((e) => e.value);
  }
}

export function isConfigArray(value: unknown): value is ConfigArray {
  return value instanceof ConfigArray;
}

/** The type name lighttpd uses in its messages. */
export function typeName(value: ConfigValue): string {
  if (typeof value === 'string') return 'string';
  if (typeof value === 'number') return 'integer';
  return 'array';
}

/**
 * lighttpd's `+` (configparser_merge_data): string+string and string+int concatenate,
 * int+string gives a string, int+int adds (as a C int, so it wraps), array+array appends
 * entries; a key present in both is an error unless both hold the same string or integer.
 * Throws a plain Error; the parser adds file and line.
 */
export function mergeValues(left: ConfigValue, right: ConfigValue): ConfigValue {
  if (typeof left === 'string' && (typeof right === 'string' || typeof right === 'number')) {
    return left + String(right);
  }
  if (typeof left === 'number' && typeof right === 'string') return String(left) + right;
  if (typeof left === 'number' && typeof right === 'number') return (left + right) | 0;
  if (left instanceof ConfigArray && right instanceof ConfigArray) {
    const entries = [...left.entries];
    for (const entry of right.entries) {
      const clash = entry.key === undefined ? undefined : entries.find((e) => e.key === entry.key);
      if (clash === undefined) {
        entries.push(entry);
      } else if (
        (typeof clash.value === 'string' || typeof clash.value === 'number') &&
        clash.value === entry.value
      ) {
        // lighttpd only warns when the same key arrives again with the very same value.
      } else {
        throw new Error(`duplicate array-key '${entry.key}'`);
      }
    }
    return new ConfigArray(entries);
  }
  throw new Error(`data type mismatch, cannot merge ${typeName(left)} with ${typeName(right)}`);
}

/** Where an option was assigned: lets consumers report a bad value at its line. */
export interface OptionSource {
  readonly key: string;
  readonly file: string;
  readonly line: number;
  /** The condition block the value was assigned in (its id); 0 or absent for the global scope. */
  readonly block?: number;
}

const TRUE_WORDS = new Set(['enable', 'enabled', 'true', '1']);
const FALSE_WORDS = new Set(['disable', 'disabled', 'false', '0']);

/**
 * A lighttpd boolean option (config_plugin_value_tobool): "enable"/"enabled"/"true"/"1" or
 * "disable"/"disabled"/"false"/"0" in any case, or an integer (non-zero is true).
 * `where` names the option (and ideally its location) for the error message.
 */
export function toBool(value: ConfigValue, where: string | OptionSource): boolean {
  if (typeof value === 'number') return value !== 0;
  if (typeof value === 'string') {
    const word = value.toLowerCase();
    if (TRUE_WORDS.has(word)) return true;
    if (FALSE_WORDS.has(word)) return false;
  }
  throw valueError(where, `expected "enable" or "disable", got ${describe(value)}`);
}

export interface IntRange {
  min?: number;
  max?: number;
}

/**
 * A numeric option: an integer, or a string of decimal digits (values from env.* arrive as
 * strings). Optional bounds, e.g. `{ min: 0, max: 65535 }` for lighttpd's "short" options.
 */
export function toInt(value: ConfigValue, where: string | OptionSource, range: IntRange = {}): number {
  let n: number | undefined;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string' && /^\s*[+-]?\d+$/.test(value)) n = Number.parseInt(value, 10);
  if (n === undefined || !Number.isSafeInteger(n)) {
    throw valueError(where, `expected an integer, got ${describe(value)}`);
  }
  if ((range.min !== undefined && n < range.min) || (range.max !== undefined && n > range.max)) {
    throw valueError(where, `${n} is outside ${range.min ?? '…'} … ${range.max ?? '…'}`);
  }
  return n;
}

function valueError(where: string | OptionSource, reason: string): ConfigError {
  if (typeof where === 'string') return new ConfigError(reason, where, 0);
  return new ConfigError(`${where.key}: ${reason}`, where.file, where.line);
}

function describe(value: ConfigValue): string {
  return value instanceof ConfigArray ? 'an array' : JSON.stringify(value);
}
