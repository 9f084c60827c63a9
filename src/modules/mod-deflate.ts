import type { Config } from '../config/model.js';
import type { OptionReader } from '../config/option-reader.js';
import { type CompressionParams, PARAM_RANGES } from '../http/compressor.js';
import { parseAllowedEncodings } from '../http/content-coding.js';
import { type CompressOptions, compress } from '../middleware/compress.js';
import { module } from './descriptor.js';

/**
 * mod_deflate (lighttpd 1.4.69), and mod_compress's keys as 1.4.69 maps them onto it: each
 * compress.* key is read as its deflate.* key, with lighttpd's DEPRECATED warning (where both
 * apply, the deflate.* key wins).
 */
const RENAMED: ReadonlyArray<readonly [compressKey: string, deflateKey: string]> = [
  ['compress.filetype', 'deflate.mimetypes'],
  ['compress.allowed-encodings', 'deflate.allowed-encodings'],
  ['compress.max-filesize', 'deflate.max-compress-size'],
  ['compress.max-loadavg', 'deflate.max-loadavg'],
  ['compress.cache-dir', 'deflate.cache-dir'],
];

const LEVEL = 'deflate.compression-level';
const PARAMS = 'deflate.params';

export const modDeflate = module({
  name: 'mod_deflate',
  hook: 'response_start',
  keys: {
    'deflate.mimetypes': 'list',
    'deflate.allowed-encodings': 'list',
    'deflate.max-compress-size': 'integer',
    'deflate.min-compress-size': 'integer',
    'deflate.compression-level': 'integer',
    'deflate.output-buffer-size': 'integer',
    'deflate.work-block-size': 'integer',
    'deflate.max-loadavg': 'string',
    'deflate.cache-dir': 'string',
    'deflate.params': 'pairs',
    'compress.filetype': 'list',
    'compress.allowed-encodings': 'list',
    'compress.cache-dir': 'string',
    'compress.max-filesize': 'integer',
    'compress.max-loadavg': 'string',
  },
  optionKeys: {
    mimetypes: 'deflate.mimetypes',
    allowedEncodings: 'deflate.allowed-encodings',
    minCompressSize: 'deflate.min-compress-size',
    maxCompressSize: 'deflate.max-compress-size',
    compressionLevel: LEVEL,
    params: PARAMS,
    cacheDir: 'deflate.cache-dir',
    maxLoadavg: 'deflate.max-loadavg',
  },
  read: (r) => deflateOptions(r),
  warnings: (r) => deflateWarnings(r),
  // Not pure: building it makes deflate.cache-dir, as lighttpd does when it starts.
  stage: (options, { log }) => compress({ ...options, log }),
});

/** The key that holds the value: the deflate.* one if set, else its old compress.* name. */
function keyFor(r: OptionReader, deflateKey: string): string {
  const old = RENAMED.find(([, key]) => key === deflateKey)?.[0];
  return !r.has(deflateKey) && old && r.has(old) ? old : deflateKey;
}

/** The options for compress(), or undefined when nothing is compressed (no mimetypes or no encodings). */
export function deflateOptions(r: OptionReader): CompressOptions | undefined {
  const mimetypes = r.list(keyFor(r, 'deflate.mimetypes'));
  const allowedEncodings = r.list(keyFor(r, 'deflate.allowed-encodings'));
  const short = { min: 0, max: 65535 };
  const minCompressSize = r.int('deflate.min-compress-size', 256, short);
  const maxCompressSize = r.int(keyFor(r, 'deflate.max-compress-size'), 128 * 1024, {
    min: 0,
    max: 2 ** 32 - 1,
  });
  const compressionLevel = r.int(LEVEL, -1);
  if (compressionLevel !== -1 && (compressionLevel < 1 || compressionLevel > 9))
    throw r.error(LEVEL, `compression-level must be between 1 and 9: ${compressionLevel}`);
  const outputBufferSize = r.int('deflate.output-buffer-size', 0, short);
  r.int('deflate.work-block-size', 2048, short);
  const loadKey = keyFor(r, 'deflate.max-loadavg');
  const maxLoadavg = Number.parseFloat(r.string(loadKey) ?? '') || 0;
  const cacheDir = r.string(keyFor(r, 'deflate.cache-dir')) || undefined;
  const params = r.has(PARAMS) ? readParams(r).params : undefined;
  // lighttpd 1.4.69 has no default list: without deflate.allowed-encodings nothing is compressed.
  if (mimetypes.length === 0 || parseAllowedEncodings(allowedEncodings).entries.length === 0)
    return undefined;
  const streaming = r.has('server.stream-response-body') && r.int('server.stream-response-body', 0) !== 0;
  return {
    mimetypes,
    allowedEncodings,
    minCompressSize,
    maxCompressSize,
    compressionLevel,
    params,
    cacheDir,
    maxLoadavg: Math.max(maxLoadavg, 0),
    // lighttpd flushes after each piece when it streams answers and has no output buffer size.
    syncFlush: streaming && outputBufferSize === 0,
  };
}

/** deflate.params, read as lighttpd reads them: names in any case; a bad one is logged and skipped. */
function readParams(r: OptionReader): { params: CompressionParams; problems: string[] } {
  const params: Record<string, number> = {};
  const problems: string[] = [];
  for (const [name, value] of r.pairs(PARAMS)) {
    const known = (Object.keys(PARAM_RANGES) as Array<keyof CompressionParams>).find(
      (key) => key.toLowerCase() === name.toLowerCase(),
    );
    if (!known) {
      problems.push(`unrecognized param: ${name}`);
      continue;
    }
    const n = /^\s*[+-]?\d+\s*$/.test(value) ? Number.parseInt(value, 10) : -1;
    const [min, max] = PARAM_RANGES[known];
    if (n < min || n > max) problems.push(`invalid value for ${known}`);
    else params[known] = n;
  }
  return { params, problems };
}

function deflateWarnings(r: OptionReader): string[] {
  const at = (key: string) => {
    const where = r.where(key);
    return `${where.file}:${where.line}`;
  };
  const warnings: string[] = [];
  for (const [old, key] of RENAMED)
    if (r.has(old)) warnings.push(`${at(old)}: DEPRECATED: ${old} replaced with ${key}`);
  const mimetypesKey = keyFor(r, 'deflate.mimetypes');
  const encodingsKey = keyFor(r, 'deflate.allowed-encodings');
  const allowed = parseAllowedEncodings(r.list(encodingsKey));
  if (r.list(mimetypesKey).length > 0 && !r.has(encodingsKey))
    warnings.push(
      `${at(mimetypesKey)}: ${mimetypesKey} is set but deflate.allowed-encodings is not: lighttpd 1.4.69 ` +
        'then compresses nothing, and neither does koa-lighty (list the codings to use, e.g. ' +
        'deflate.allowed-encodings = ( "br", "gzip", "deflate" ))',
    );
  for (const coding of allowed.unavailable)
    warnings.push(
      coding === 'zstd'
        ? `${at(encodingsKey)}: ${encodingsKey}: zstd needs Node 22.15 or 23.8 and later (this is ${process.version}): not used`
        : `${at(encodingsKey)}: ${encodingsKey}: ${coding} is not available (Debian's lighttpd has none either): not used`,
    );
  if (r.has(PARAMS))
    for (const problem of readParams(r).problems) warnings.push(`${at(PARAMS)}: ${PARAMS}: ${problem}`);
  return warnings;
}

/**
 * lighttpd 1.4.69's handling of `mod_compress` in server.modules (configfile.c): with any
 * compress.* key in the config it says mod_compress is deprecated; it then loads mod_deflate
 * in its place, unless mod_deflate is listed too or no compress.* key is set, when it just
 * drops it.
 */
export function mapModCompress(
  modules: readonly string[],
  config: Config,
): { modules: string[]; warning?: string } {
  const at = modules.indexOf('mod_compress');
  if (at < 0) return { modules: [...modules] };
  const compressKey = (options: Iterable<string>) => [...options].some((key) => key.startsWith('compress.'));
  const used =
    compressKey(config.global.keys()) || config.blocks.some((block) => compressKey(block.options.keys()));
  const mapped =
    modules.includes('mod_deflate') || !used
      ? modules.filter((name) => name !== 'mod_compress')
      : modules.map((name) => (name === 'mod_compress' ? 'mod_deflate' : name));
  const source = config.globalSources.get('server.modules');
  const where = source ? `${source.file}:${source.line}` : config.file;
  return {
    modules: mapped,
    warning: used
      ? `${where}: Warning: "mod_compress" is DEPRECATED and has been replaced with "mod_deflate".  A future release of lighttpd 1.4.x will not contain mod_compress and lighttpd may fail to start up`
      : undefined,
  };
}
