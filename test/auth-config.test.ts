/**
 * mod_auth's start-up checks. What lighttpd refuses, koa-lighty refuses too, naming the file
 * and line (each case is also run through `lighttpd -tt`); and where lighttpd would start and
 * serve a protected path to everyone (auth.require without mod_auth) or koa-lighty cannot do
 * what the config asks (an LDAP backend), koa-lighty refuses where lighttpd does not.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { ConfigError } from '../src/config/errors.js';
import { loadConfig } from '../src/server/app.js';
import { LIGHTTPD } from './helpers/lighttpd.js';

const dir = mkdtempSync(join(tmpdir(), 'koa-lighty-auth-config-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const htpasswd = join(dir, 'htpasswd');
writeFileSync(
  htpasswd,
  [
    'des-user:XyzucOBe2wvgo',
    'yes-user:$y$j9T$F5Jx5fExrKuPp53xLKQ..1$n6G1Tw5w7fao78zlwTFGaPleEM/vlTpl2fG4d5b.ED2',
    'apr-user:$apr1$r8GQ2hKp$PRtQzEK69jAvytPa5gA.60',
    'slow-user:$2y$31$CCCCCCCCCCCCCCCCCCCCC.62t.IqLvSLpvnuB.4BnNuMgJnYnrvpW',
    '',
  ].join('\n'),
);

let count = 0;
function conf(lines: string[], modules = '"mod_auth", "mod_authn_file"'): string {
  const file = join(dir, `auth-${++count}.conf`);
  writeFileSync(
    file,
    [`server.document-root = "${dir}"`, `server.modules = ( ${modules} )`, ...lines, ''].join('\n'),
  );
  return file;
}

function refusal(file: string): ConfigError {
  try {
    loadConfig(file);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`${file} started`);
}

/** Whether lighttpd 1.4.69 accepts the file (`-tt` loads the modules and checks their options). */
function lighttpdAccepts(file: string): boolean {
  return spawnSync(LIGHTTPD, ['-tt', '-f', file], { stdio: 'ignore' }).status === 0;
}

const rule = (fields: string) => `auth.require = ( "/admin/" => ( ${fields} ) )`;
const BASIC = '"method" => "basic", "realm" => "r", "require" => "valid-user"';

test('a complete config loads, in blocks too, and lighttpd agrees', (t) => {
  const file = conf([
    'auth.backend = "htpasswd"',
    `auth.backend.htpasswd.userfile = "${htpasswd}"`,
    '$HTTP["host"] == "a.example" {',
    `  ${rule(`${BASIC}, "algorithm" => "MD5|sha-256|SHA-512-256-sess", "nonce-secret" => "s", "userhash" => "enable"`)}`,
    '  auth.cache = ( "max-age" => "60" )',
    '  auth.extern-authn = "enable"',
    '}',
  ]);
  t.true(lighttpdAccepts(file));
  t.notThrows(() => loadConfig(file));
});

const broken: Array<[string, string, RegExp]> = [
  [
    'an unknown method',
    rule('"method" => "Basic", "realm" => "r", "require" => "valid-user"'),
    /unknown method Basic/,
  ],
  ['no method', rule('"realm" => "r", "require" => "valid-user"'), /the method field is missing or blank/],
  ['no realm', rule('"method" => "basic", "require" => "valid-user"'), /the realm field is missing/],
  ['no require', rule('"method" => "basic", "realm" => "r"'), /the require field is missing or blank/],
  ['an unknown field', rule(`${BASIC}, "secret" => "x"`), /the field is unknown .*"secret"/],
  ['a field that is no string', rule(`${BASIC}, "userhash" => 1`), /a string was expected/],
  ['an unknown algorithm', rule(`${BASIC}, "algorithm" => "SHA-1"`), /invalid algorithm/],
  ['require without =', rule('"method" => "basic", "realm" => "r", "require" => "jan"'), /missing '='/],
  [
    'require with an empty name',
    rule('"method" => "basic", "realm" => "r", "require" => "user="'),
    /missing token after '='/,
  ],
  [
    'require with an unknown token',
    rule('"method" => "basic", "realm" => "r", "require" => "role=x"'),
    /invalid\/unsupported token/,
  ],
  [
    'valid-user with others',
    rule('"method" => "basic", "realm" => "r", "require" => "valid-user=1|user=a"'),
    /can not be combined/,
  ],
  [
    'an empty part of require',
    rule('"method" => "basic", "realm" => "r", "require" => "user=a||user=b"'),
    /missing '='/,
  ],
  [
    'a rule that is no array',
    'auth.require = ( "/admin/" => "basic" )',
    /unexpected value for auth\.require/,
  ],
  ['an unknown backend', 'auth.backend = "files"', /auth\.backend not supported: files/],
];
for (const [what, line, message] of broken) {
  test(`${what} refuses to start at its line, as lighttpd refuses`, (t) => {
    const file = conf([line]);
    t.false(lighttpdAccepts(file), 'lighttpd refuses it too');
    const error = refusal(file);
    t.is(error.file, file);
    t.is(error.line, 3);
    t.regex(error.message, message);
  });
}

test('a realm with a control character refuses to start (it would split the header)', (t) => {
  const file = conf([rule('"method" => "basic", "realm" => "a\nb", "require" => "valid-user"')]);
  const error = refusal(file);
  t.regex(error.message, /auth\.require: .*control characters/);
});

test('auth.require without mod_auth loaded refuses to start (lighttpd would serve the path to everyone)', (t) => {
  const file = conf(['$HTTP["host"] == "a.example" {', `  ${rule(BASIC)}`, '}'], '"mod_access"');
  t.true(lighttpdAccepts(file), 'lighttpd starts, ignoring auth.require');
  const error = refusal(file);
  t.is(error.line, 4);
  t.regex(error.message, /auth\.require: mod_auth is not in server\.modules: refusing to start/);
});

for (const [backend, module] of [
  ['ldap', 'mod_authn_ldap'],
  ['pam', 'mod_authn_pam'],
  ['gssapi', 'mod_authn_gssapi'],
  ['sasl', 'mod_authn_sasl'],
  ['dbi', 'mod_authn_dbi'],
]) {
  test(`auth.backend "${backend}" refuses to start: koa-lighty has no ${module}`, (t) => {
    const file = conf(['$HTTP["url"] =^ "/x/" {', `  auth.backend = "${backend}"`, '}', rule(BASIC)]);
    const error = refusal(file);
    t.is(error.line, 4);
    t.regex(error.message, new RegExp(`auth\\.backend: ${module} is not supported by koa-lighty`));
  });
}

test('warnings at start: host= and group= never match, mod_authn_file loaded for the backend', (t) => {
  const file = conf(
    [
      'auth.backend = "plain"',
      rule('"method" => "basic", "realm" => "r", "require" => "user=jan|host=192.168.2.10|group=www"'),
    ],
    '"mod_auth"',
  );
  t.true(lighttpdAccepts(file));
  const { warnings } = loadConfig(file);
  t.true(
    warnings.includes(
      `${file}:4: auth.require: warning parsing auth.require 'require' field: 'host' not implemented; field value: user=jan|host=192.168.2.10|group=www`,
    ),
  );
  t.true(
    warnings.some((w) => w.startsWith(`${file}:4: auth.require: `) && w.includes('group= never matches')),
  );
  t.true(warnings.some((w) => w.includes('please add "mod_authn_file" to server.modules')));
  t.false(warnings.some((w) => w.includes('is not supported by koa-lighty yet')));
});

test('warnings at start: the users of an htpasswd file koa-lighty refuses, and DES hashes', (t) => {
  const file = conf([
    'auth.backend = "htpasswd"',
    `auth.backend.htpasswd.userfile = "${htpasswd}"`,
    rule(BASIC),
  ]);
  const { warnings } = loadConfig(file);
  const at = `${file}:4: auth.backend.htpasswd.userfile: `;
  t.true(
    warnings.includes(
      `${at}koa-lighty cannot check these hashes, so these users are refused: yes-user (yescrypt ($y$)), slow-user (bcrypt with cost 31 (above 17))`,
    ),
    warnings.join('\n'),
  );
  t.true(
    warnings.some(
      (w) => w.startsWith(at) && w.includes('only the first 8 characters') && w.endsWith(': des-user'),
    ),
  );
  t.false(warnings.join('\n').includes('$apr1$'), 'no hash is shown');
});

test('warnings at start: a user file that does not exist', (t) => {
  const file = conf([
    'auth.backend = "htpasswd"',
    `auth.backend.htpasswd.userfile = "${dir}/missing"`,
    rule(BASIC),
  ]);
  t.true(loadConfig(file).warnings.some((w) => w.includes(`${dir}/missing does not exist`)));
});
