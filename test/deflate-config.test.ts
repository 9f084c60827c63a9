/**
 * mod_deflate's keys in a lighttpd.conf: what refuses to start (naming the line), what is said
 * at start (lighttpd's DEPRECATED lines for compress.*, the codings this Node lacks, a missing
 * deflate.allowed-encodings), and how `mod_compress` in server.modules becomes mod_deflate.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { ConfigError } from '../src/config/errors.js';
import { ZSTD_AVAILABLE } from '../src/http/content-coding.js';
import { pipelineOrder } from '../src/modules/descriptor.js';
import { MODULES } from '../src/modules/table.js';
import { createApp, loadConfig } from '../src/server/app.js';

const dir = mkdtempSync(join(tmpdir(), 'koa-lighty-deflate-conf-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function conf(lines: string[]): string {
  const file = join(dir, `c${n++}.conf`);
  writeFileSync(file, [`server.document-root = "${dir}"`, ...lines, ''].join('\n'));
  return file;
}

test('a compression-level outside 1-9 refuses to start, at its line, with lighttpd’s reason', (t) => {
  const file = conf([
    'server.modules = ("mod_deflate")',
    'deflate.mimetypes = ("text/")',
    'deflate.compression-level = 12',
  ]);
  const error = t.throws(() => loadConfig(file), { instanceOf: ConfigError });
  t.is(error?.line, 4);
  t.regex(error!.message, /compression-level must be between 1 and 9: 12/);
});

test('a size beyond lighttpd’s short range refuses to start (lighttpd would cut it to 16 bits)', (t) => {
  const file = conf(['server.modules = ("mod_deflate")', 'deflate.min-compress-size = 70000']);
  const error = t.throws(() => loadConfig(file), { instanceOf: ConfigError });
  t.is(error?.line, 3);
});

test('compress.* keys: lighttpd’s DEPRECATED line for each, at its line; mod_compress is loaded as mod_deflate', (t) => {
  const file = conf([
    'server.modules = ("mod_access", "mod_compress")',
    'compress.filetype = ("text/plain")',
    'compress.allowed-encodings = ("gzip")',
    'compress.max-filesize = 1000',
    'compress.max-loadavg = "8"',
    `compress.cache-dir = "${dir}/cache/"`,
  ]);
  const loaded = loadConfig(file);
  t.deepEqual(loaded.server.modules, ['mod_access', 'mod_deflate']);
  const lines = [
    `${file}:2: Warning: "mod_compress" is DEPRECATED and has been replaced with "mod_deflate".  A future release of lighttpd 1.4.x will not contain mod_compress and lighttpd may fail to start up`,
    `${file}:3: DEPRECATED: compress.filetype replaced with deflate.mimetypes`,
    `${file}:4: DEPRECATED: compress.allowed-encodings replaced with deflate.allowed-encodings`,
    `${file}:5: DEPRECATED: compress.max-filesize replaced with deflate.max-compress-size`,
    `${file}:6: DEPRECATED: compress.max-loadavg replaced with deflate.max-loadavg`,
    `${file}:7: DEPRECATED: compress.cache-dir replaced with deflate.cache-dir`,
  ];
  for (const line of lines) t.true(loaded.warnings.includes(line), loaded.warnings.join('\n'));
  t.false(loaded.warnings.some((line) => /not supported/.test(line)));
  t.true(pipelineOrder(MODULES, loaded.server.modules).some((m) => m.name === 'mod_deflate'));
});

test('mod_compress with mod_deflate listed too, or without any compress.* key, is dropped (as lighttpd does)', (t) => {
  const both = loadConfig(
    conf(['server.modules = ("mod_compress", "mod_deflate")', 'compress.filetype = ("text/")']),
  );
  t.deepEqual(both.server.modules, ['mod_deflate']);
  const bare = loadConfig(conf(['server.modules = ("mod_compress", "mod_access")']));
  t.deepEqual(bare.server.modules, ['mod_access']);
  t.false(
    bare.warnings.some((line) => /mod_compress/.test(line)),
    bare.warnings.join('\n'),
  );
});

test('deflate.mimetypes without deflate.allowed-encodings: said at start (lighttpd 1.4.69 compresses nothing then)', (t) => {
  const file = conf(['server.modules = ("mod_deflate")', 'deflate.mimetypes = ("text/")']);
  const warnings = loadConfig(file).warnings;
  t.true(
    warnings.some((line) =>
      line.startsWith(`${file}:3: deflate.mimetypes is set but deflate.allowed-encodings is not`),
    ),
    warnings.join('\n'),
  );
});

test('codings this Node cannot make are named at start; zstd only before Node 22.15', (t) => {
  const file = conf([
    'server.modules = ("mod_deflate")',
    'deflate.mimetypes = ("text/")',
    'deflate.allowed-encodings = ("zstd", "bzip2", "gzip")',
  ]);
  const warnings = loadConfig(file).warnings;
  t.true(warnings.some((line) => line.includes('bzip2 is not available')));
  t.is(
    warnings.some((line) => line.includes('zstd needs Node 22.15')),
    !ZSTD_AVAILABLE,
  );
});

test('deflate.params: an unknown name or a value out of range is said at start and left out, as lighttpd logs it', (t) => {
  const file = conf([
    'server.modules = ("mod_deflate")',
    'deflate.mimetypes = ("text/")',
    'deflate.allowed-encodings = ("gzip")',
    'deflate.params = ("gzip.level" => 9, "BROTLI_PARAM_QUALITY" => 12, "bzip2.blockSize100k" => 9)',
  ]);
  const warnings = loadConfig(file).warnings;
  t.true(
    warnings.includes(`${file}:5: deflate.params: invalid value for BROTLI_PARAM_QUALITY`),
    warnings.join('\n'),
  );
  t.true(warnings.includes(`${file}:5: deflate.params: unrecognized param: bzip2.blockSize100k`));
});

test('a deflate.cache-dir that cannot be made refuses to start, at its line', (t) => {
  writeFileSync(join(dir, 'a-file'), '');
  const file = conf([
    'server.modules = ("mod_deflate")',
    'deflate.mimetypes = ("text/")',
    'deflate.allowed-encodings = ("gzip")',
    `deflate.cache-dir = "${dir}/a-file/cache"`,
  ]);
  const loaded = loadConfig(file);
  const error = t.throws(() => createApp(loaded), { instanceOf: ConfigError });
  t.is(error?.line, 5);
  t.regex(error!.message, /can't stat/);
});
