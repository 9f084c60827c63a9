/**
 * `lighttpd -p -f FILE` as a test oracle. Its output is lighttpd's own parse written back as
 * plain, normalised config (values evaluated, includes inlined, repeated conditions merged,
 * simple regexes turned into =^ / =$ / ==), wrapped in `config { … }`. Unwrapped, that text
 * is a config without variables or includes, so our parser reads it into the same shape as
 * the original file, and the two printConfig results must be equal.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseConfigString } from '../src/config/parser.js';
import { type PrintedConfig, printConfig } from '../src/config/print.js';

export const LIGHTTPD = '/usr/sbin/lighttpd';

export function requireLighttpd(): void {
  if (!existsSync(LIGHTTPD)) {
    throw new Error(
      `${LIGHTTPD} is missing: install Debian's lighttpd (npm run setup) to run the oracle tests`,
    );
  }
}

/** lighttpd's parse of `file`, run from the file's directory. */
export function lighttpdPrint(file: string): string {
  requireLighttpd();
  return execFileSync(LIGHTTPD, ['-p', '-f', file], { cwd: dirname(file), encoding: 'utf8', stdio: 'pipe' });
}

/** Whether `lighttpd -tt` accepts the file. */
export function lighttpdAccepts(file: string): boolean {
  requireLighttpd();
  try {
    execFileSync(LIGHTTPD, ['-tt', '-f', file], { cwd: dirname(file), stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

/** The oracle's parse in printConfig's shape (var.CWD and var.PID left out). */
export function oracleConfig(file: string): PrintedConfig {
  const text = lighttpdPrint(file);
  const lines = text.split('\n');
  const first = lines.findIndex((l) => l.trim() === 'config {');
  let last = lines.length - 1;
  while (last > first && lines[last]!.trim() !== '}') last--;
  if (first < 0 || last <= first) throw new Error(`unexpected lighttpd -p output:\n${text}`);
  const body = lines
    .slice(first + 1, last)
    .filter((l) => !/^\s*var\.(CWD|PID)\s*=/.test(l))
    .join('\n');
  return printConfig(parseConfigString(body, { file: `lighttpd -p -f ${file}` }), { omitPredefined: true });
}
