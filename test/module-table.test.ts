/**
 * The module table: stage order from lighttpd's hooks and server.modules, and option errors
 * of a stage factory reported at the config line behind the option.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { ConfigError } from '../src/config/errors.js';
import { redirect } from '../src/middleware/redirect.js';
import { pipelineOrder } from '../src/modules/descriptor.js';
import { MODULES, SUPPORTED_MODULES, SUPPORTED_OPTIONS } from '../src/modules/table.js';
import { OptionError } from '../src/option-error.js';
import { loadConfig } from '../src/server/app.js';

const dir = mkdtempSync(join(tmpdir(), 'koa-lighty-table-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

function conf(name: string, lines: string[]): string {
  const file = join(dir, name);
  writeFileSync(file, [`server.document-root = "${dir}"`, ...lines, ''].join('\n'));
  return file;
}

test('stages follow the hooks, then server.modules; built-in modules come last in theirs', (t) => {
  const names = (loaded: string[]) => pipelineOrder(MODULES, loaded).map((m) => m.name);
  t.deepEqual(
    names(['mod_redirect', 'mod_fastcgi', 'mod_access', 'mod_accesslog', 'mod_secdownload', 'mod_alias']),
    [
      'mod_accesslog',
      'server.kbytes-per-second',
      'server.error-handler',
      'server.max-request-size',
      'server.connection-limits',
      'server.range-requests',
      'mod_redirect',
      'mod_access',
      'mod_secdownload',
      'mod_alias',
      'mod_fastcgi',
      'mod_indexfile',
      'mod_dirlisting',
      'mod_staticfile',
    ],
  );
  t.deepEqual(names(['mod_access', 'mod_redirect']), [
    'server.kbytes-per-second',
    'server.error-handler',
    'server.max-request-size',
    'server.connection-limits',
    'server.range-requests',
    'mod_access',
    'mod_redirect',
    'mod_indexfile',
    'mod_dirlisting',
    'mod_staticfile',
  ]);
});

test('the supported options and modules are the table’s', (t) => {
  for (const m of MODULES) {
    // The core's own stages (server.error-handler) are not modules a config can load.
    t.is(SUPPORTED_MODULES.has(m.name), !m.core, m.name);
    for (const key of Object.keys(m.keys)) t.true(SUPPORTED_OPTIONS.has(key), key);
  }
  t.true(SUPPORTED_MODULES.has('mod_rewrite'));
  t.false(SUPPORTED_MODULES.has('mod_ssi'));
});

test('an OptionError of a stage becomes a ConfigError at the line of its config key', (t) => {
  const file = conf('redirect-code.conf', [
    'server.modules = ( "mod_redirect" )',
    'url.redirect = ( "^/a$" => "/b" )',
    'url.redirect-code = 200',
  ]);
  const error = t.throws(() => loadConfig(file), { instanceOf: ConfigError });
  t.is(error.message, `${file}:4: url.redirect-code: must be a 3xx status, not 200`);
});

test('inside a block too, and for the Koa user the same check is an OptionError with a code', (t) => {
  const file = conf('alias.conf', [
    'server.modules = ( "mod_alias" )',
    '$HTTP["host"] == "a.example" {',
    '  alias.url = ( "/x/" => "relative/dir" )',
    '}',
  ]);
  const error = t.throws(() => loadConfig(file), { instanceOf: ConfigError });
  t.regex(error.message, new RegExp(`^${file.replace(/[.]/g, '\\.')}:4: alias\\.url: `));
  const koa = t.throws(() => redirect({ rules: [], status: 200 }), { instanceOf: OptionError });
  t.is(koa.code, 'ERR_REDIRECT_STATUS');
  t.is(koa.option, 'status');
});

test('fastcgi.server host keys koa-lighty does not honour are each warned about at their line', (t) => {
  const file = conf('fastcgi-keys.conf', [
    'server.modules = ( "mod_fastcgi" )',
    'fastcgi.server = ( ".php" => ( ( "host" => "127.0.0.1", "port" => 9000,',
    '  "min-procs" => 1, "max-procs" => 4, "kill-signal" => 9, "frobnicate" => "yes" ) ) )',
  ]);
  const warnings = loadConfig(file).warnings.filter((w) => w.includes('fastcgi.server'));
  t.deepEqual(warnings, [
    `${file}:3: fastcgi.server ".php": "min-procs" has no effect: adaptive spawning is not supported: max-procs processes run all the time`,
    `${file}:3: fastcgi.server ".php": "kill-signal" has no effect: spawned programs are stopped with SIGTERM`,
    `${file}:3: fastcgi.server ".php": "frobnicate" has no effect: koa-lighty does not know this host option`,
  ]);
});

test('server.indexfiles, the old name of index-file.names, picks the index file as lighttpd 1.4.69 does', async (t) => {
  const { startBoth, seen } = await import('./helpers/same-conf.js');
  const root = mkdtempSync(join(tmpdir(), 'koa-lighty-indexfiles-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  writeFileSync(join(root, 'start.html'), 'the old name works\n');
  const servers = await startBoth(
    () => `server.document-root = "${root}"\nserver.indexfiles = ( "start.html" )\n`,
  );
  t.teardown(() => servers.close());
  t.false(
    servers.loaded.warnings.some((w) => w.includes('server.indexfiles')),
    servers.loaded.warnings.join('\n'),
  );
  const [expected, actual] = await servers.both('/');
  t.is(expected.status, 200);
  t.deepEqual(seen(actual), seen(expected));
});
