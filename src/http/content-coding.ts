/**
 * Content codings as lighttpd 1.4.69's mod_deflate names them, which ones this Node can
 * produce, and which one a request gets: `deflate.allowed-encodings` gives the server's order
 * of preference, `Accept-Encoding` what the client takes.
 */
import zlib from 'node:zlib';

/** What goes into Content-Encoding and the ETag suffix (`x-gzip` is gzip under its old name). */
export type CodingLabel = 'zstd' | 'br' | 'gzip' | 'x-gzip' | 'deflate';
/** The compressor behind a label. */
export type Coder = 'zstd' | 'br' | 'gzip' | 'deflate';

export const CODER_OF: Readonly<Record<CodingLabel, Coder>> = {
  zstd: 'zstd',
  br: 'br',
  gzip: 'gzip',
  'x-gzip': 'gzip',
  deflate: 'deflate',
};

/**
 * zstd is in node:zlib from Node 22.15 and 23.8 on (zlib.createZstdCompress); brotli, gzip and
 * deflate are in every Node koa-lighty runs on.
 */
export const ZSTD_AVAILABLE =
  typeof (zlib as { createZstdCompress?: unknown }).createZstdCompress === 'function';

/**
 * One entry of the server's list: the labels it stands for, in lighttpd's order of precedence
 * when the client accepts several of them (`gzip` covers `x-gzip` too).
 */
export type AllowedEntry = readonly CodingLabel[];

/**
 * deflate.allowed-encodings as lighttpd reads each value: by substring, so `"gzip"` and
 * `"x-gzip"` both allow gzip and x-gzip, `"brotli"` allows br, and one value may allow
 * several (`"gzip, deflate"`). Codings this Node cannot produce (zstd before 22.15, bzip2
 * always) are left out; `unavailable` names them for a warning.
 */
export function parseAllowedEncodings(values: readonly string[]): {
  entries: AllowedEntry[];
  unavailable: string[];
} {
  const entries: AllowedEntry[] = [];
  const unavailable = new Set<string>();
  for (const value of values) {
    if (value.includes('gzip')) entries.push(['gzip', 'x-gzip']);
    if (value.includes('deflate')) entries.push(['deflate']);
    if (value.includes('bzip2')) unavailable.add('bzip2');
    if (value.includes('br')) entries.push(['br']);
    if (value.includes('zstd')) {
      if (ZSTD_AVAILABLE) entries.push(['zstd']);
      else unavailable.add('zstd');
    }
  }
  return { entries, unavailable: [...unavailable] };
}

/** Every coding this Node has, in the order lighttpd 1.4.74 and later prefer by default. */
export function availableEncodings(): AllowedEntry[] {
  const entries: AllowedEntry[] = [['br'], ['gzip', 'x-gzip', 'deflate']];
  return ZSTD_AVAILABLE ? [['zstd'], ...entries] : entries;
}

/** lighttpd's precedence among the labels of one allowed entry. */
const PRECEDENCE: readonly CodingLabel[] = ['zstd', 'br', 'gzip', 'x-gzip', 'deflate'];

/**
 * The q-value of each coding the client names in Accept-Encoding (lower-case names as
 * lighttpd matches them: `GZIP` is not gzip; `*` and `identity` name no compressor). A coding
 * named twice keeps its last q-value.
 */
export function acceptedCodings(header: string): Map<CodingLabel, number> {
  const accepted = new Map<CodingLabel, number>();
  for (const item of header.split(',')) {
    const [name = '', ...params] = item.split(';');
    const label = name.trim();
    if (!(label in CODER_OF)) continue;
    let q = 1;
    for (const param of params) {
      const m = /^\s*q\s*=\s*([0-9.]+)\s*$/i.exec(param);
      if (m) q = Math.min(1, Number(m[1]) || 0);
    }
    accepted.set(label as CodingLabel, q);
  }
  return accepted;
}

/**
 * The coding a request gets, or undefined for none. As lighttpd: the first allowed entry the
 * client accepts wins, and within it lighttpd's precedence. Beyond lighttpd 1.4.69, which
 * ignores q-values: `q=0` refuses a coding, and a higher q-value wins over the server's
 * order (equal ones keep it), as RFC 9110 section 12.5.3 asks.
 */
export function chooseCoding(header: string, allowed: readonly AllowedEntry[]): CodingLabel | undefined {
  const accepted = acceptedCodings(header);
  let best: CodingLabel | undefined;
  let bestQ = 0;
  for (const entry of allowed) {
    for (const label of PRECEDENCE) {
      if (!entry.includes(label)) continue;
      const q = accepted.get(label) ?? 0;
      if (q > bestQ) {
        best = label;
        bestQ = q;
      }
    }
  }
  return best;
}
