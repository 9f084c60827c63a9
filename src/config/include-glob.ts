/**
 * The glob(3) subset lighttpd's `include` gets from glibc with GLOB_BRACE: `*`, `?`, `[…]`
 * per path segment, `{a,b}` alternatives, no match for a leading dot unless written, results
 * sorted (byte order, as in the C locale) per alternative. Node 20 has no fs.glob.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const GLOB_CHARS = /[*?[\]{}]/;

/** Whether lighttpd would treat the path as a pattern (then no match is not an error). */
export function hasGlobChars(path: string): boolean {
  return GLOB_CHARS.test(path);
}

/** Absolute pattern in, matching paths out. */
export function expandGlob(pattern: string): string[] {
  return expandBraces(pattern).flatMap((alternative) => matchSegments(alternative).sort(byteOrder));
}

function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function expandBraces(pattern: string): string[] {
  const open = pattern.indexOf('{');
  if (open < 0) return [pattern];
  let depth = 0;
  const commas: number[] = [];
  for (let i = open; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '{') depth++;
    else if (c === '}' && --depth === 0) {
      const cuts = [open, ...commas, i];
      const head = pattern.slice(0, open);
      const tail = pattern.slice(i + 1);
      return cuts.slice(1).flatMap((cut, k) => expandBraces(head + pattern.slice(cuts[k]! + 1, cut) + tail));
    } else if (c === ',' && depth === 1) commas.push(i);
  }
  return [pattern]; // an unbalanced `{` is a literal
}

function matchSegments(pattern: string): string[] {
  const absolute = pattern.startsWith('/');
  const segments = pattern.split('/').filter((s, i) => s !== '' || i === 0);
  let paths = [absolute ? '/' : '.'];
  for (const segment of absolute ? segments.slice(1) : segments) {
    if (!GLOB_CHARS.test(segment)) {
      paths = paths.map((p) => join(p, segment));
      continue;
    }
    const regex = segmentRegex(segment);
    paths = paths.flatMap((dir) => {
      let names: string[];
      try {
        names = readdirSync(dir);
      } catch {
        return [];
      }
      return names
        .filter((name) => regex.test(name) && (!name.startsWith('.') || segment.startsWith('.')))
        .map((name) => join(dir, name));
    });
  }
  return paths.filter((p) => existsSync(p));
}

function segmentRegex(segment: string): RegExp {
  let source = '';
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i]!;
    if (c === '*') source += '.*';
    else if (c === '?') source += '.';
    else if (c === '[') {
      const end = segment.indexOf(']', i + 2);
      if (end < 0) {
        source += '\\[';
        continue;
      }
      let body = segment.slice(i + 1, end);
      if (body.startsWith('!')) body = `^${body.slice(1)}`;
      source += `[${body.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else source += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 's');
}
