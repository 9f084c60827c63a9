import { ConfigError } from './errors.js';
import { ConfigArray, type ConfigValue, type OptionSource, toBool, toInt } from './values.js';

/**
 * Typed reads of one effective option set (global options overlaid by the matching blocks).
 * Every wrong type is a ConfigError at the line that assigned the option.
 */
export class OptionReader {
  constructor(
    private readonly values: ReadonlyMap<string, ConfigValue>,
    private readonly sources: ReadonlyMap<string, OptionSource>,
    private readonly file: string,
  ) {}

  has(key: string): boolean {
    return this.values.has(key);
  }

  raw(key: string): ConfigValue | undefined {
    return this.values.get(key);
  }

  where(key: string): OptionSource {
    return this.sources.get(key) ?? { key, file: this.file, line: 0 };
  }

  error(key: string, reason: string): ConfigError {
    const at = this.where(key);
    return new ConfigError(`${key}: ${reason}`, at.file, at.line);
  }

  /** A string option; '' counts as unset for the options lighttpd treats that way. */
  string(key: string): string | undefined {
    const value = this.values.get(key);
    if (value === undefined) return undefined;
    if (typeof value === 'number') return String(value);
    if (typeof value !== 'string') throw this.error(key, 'expected a string, got an array');
    return value;
  }

  bool(key: string, fallback: boolean): boolean {
    const value = this.values.get(key);
    return value === undefined ? fallback : toBool(value, this.where(key));
  }

  int(key: string, fallback: number, range?: { min?: number; max?: number }): number {
    const value = this.values.get(key);
    return value === undefined ? fallback : toInt(value, this.where(key), range);
  }

  /** `( "a", "b" )`; a single string is accepted as a one-element list, as lighttpd does. */
  list(key: string): string[] {
    const value = this.values.get(key);
    if (value === undefined) return [];
    if (typeof value === 'string') return [value];
    if (!(value instanceof ConfigArray)) throw this.error(key, 'expected a list of strings');
    return value.values().map((v) => {
      if (typeof v !== 'string' && typeof v !== 'number') throw this.error(key, 'expected a list of strings');
      return String(v);
    });
  }

  /** `( "k" => "v", … )` in order. */
  pairs(key: string): Array<[string, string]> {
    const value = this.values.get(key);
    if (value === undefined) return [];
    if (!(value instanceof ConfigArray)) throw this.error(key, 'expected ( "key" => "value", … )');
    return value.entries.map((entry) => {
      if (entry.key === undefined || (typeof entry.value !== 'string' && typeof entry.value !== 'number')) {
        throw this.error(key, 'expected ( "key" => "value", … )');
      }
      return [entry.key, String(entry.value)];
    });
  }
}
