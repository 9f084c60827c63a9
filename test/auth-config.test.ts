/**
 * mod_auth's start-up checks: a config whose auth.require koa-lighty cannot honour refuses to
 * start, naming the file and line, so nothing it protects is ever served unprotected.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { ConfigError } from '../src/config/errors.js';
import { loadConfig } from '../src/server/app.js';

const dir = mkdtempSync(join(tmpdir(), 'koa-lighty-auth-config-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

let count = 0;
function conf(lines: string[]): string {
  const file = join(dir, `auth-${++count}.conf`);
  writeFileSync(file, [`server.document-root = "${dir}"`, ...lines, ''].join('\n'));
  return file;
}

function refusal(file: string): ConfigError {
  const error = (() => {
    try {
      loadConfig(file);
    } catch (thrown) {
      return thrown;
    }
    return undefined;
  })();
  if (!(error instanceof ConfigError)) throw new Error(`${file} started: ${String(error)}`);
  return error;
}

const REQUIRE =
  'auth.require = ( "/admin/" => ( "method" => "basic", "realm" => "r", "require" => "valid-user" ) )';

test('auth.require in a block refuses to start at its line', (t) => {
  const file = conf([
    'server.modules += ( "mod_auth" )',
    '$HTTP["host"] == "a.example" {',
    `  ${REQUIRE}`,
    '}',
  ]);
  const error = refusal(file);
  t.is(error.file, file);
  t.is(error.line, 4);
  t.regex(error.message, /^.*:4: auth\.require: /);
});

test('auth.require refuses to start even when mod_auth is not loaded', (t) => {
  const file = conf([REQUIRE]);
  const error = refusal(file);
  t.is(error.line, 2);
});
