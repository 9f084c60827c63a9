/**
 * The `koa-lighty` command (the compiled CLI, as a user runs it) with mod_auth: `-t` names the
 * line of an auth.require that cannot be served protected, and a running server asks for and
 * checks a bcrypt password from an htpasswd file, with the error log in server.errorlog.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { rawRequest } from './helpers/http.js';
import { runCli, startKoaLighty } from './helpers/koa-lighty.js';
import { eventually } from './helpers/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'koa-lighty-auth-e2e-'));
mkdirSync(join(dir, 'www', 'admin'), { recursive: true });
writeFileSync(join(dir, 'www', 'admin', 'a.txt'), 'admin area\n');
// htpasswd -B (cost 5): bcrypt-y-pass
writeFileSync(join(dir, 'htpasswd'), 'admin:$2y$05$CCCCCCCCCCCCCCCCCCCCC.62t.IqLvSLpvnuB.4BnNuMgJnYnrvpW\n');
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const site = (modules: string) => `server.document-root = "${dir}/www"
server.port = PORT
server.bind = "127.0.0.1"
server.errorlog = "${dir}/error.log"
server.modules = ( ${modules} )
mimetype.assign = ( ".txt" => "text/plain" )
auth.backend = "htpasswd"
auth.backend.htpasswd.userfile = "${dir}/htpasswd"
auth.require = ( "/admin/" => ( "method" => "basic", "realm" => "Admin", "require" => "valid-user" ) )
`;

test('-t refuses auth.require without mod_auth, naming the line', async (t) => {
  const file = join(dir, 'no-mod-auth.conf');
  writeFileSync(file, site('"mod_access"').replace('PORT', '8080'));
  const r = await runCli(['-t', '-f', file]);
  t.not(r.code, 0);
  t.regex(r.stderr, new RegExp(`${file}:9: auth\\.require: mod_auth is not in server\\.modules`));
});

test('a running server asks for the password and checks a bcrypt hash', async (t) => {
  const server = await startKoaLighty({ conf: site('"mod_auth", "mod_authn_file"') });
  t.teardown(() => server.stop());
  const none = await rawRequest(server.port, '/admin/a.txt');
  t.is(none.status, 401);
  t.is(none.headers['www-authenticate'], 'Basic realm="Admin", charset="UTF-8"');
  const basic = (password: string) => ({
    Authorization: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`,
  });
  const ok = await rawRequest(server.port, '/admin/a.txt', basic('bcrypt-y-pass'));
  t.is(ok.status, 200);
  t.is(ok.body.toString(), 'admin area\n');
  t.is((await rawRequest(server.port, '/admin/a.txt', basic('wrong'))).status, 401);
  const log = () => {
    try {
      return readFileSync(join(dir, 'error.log'), 'utf8');
    } catch {
      return '';
    }
  };
  t.true(
    await eventually(() =>
      log().includes("password doesn't match for /admin/a.txt username: admin IP: 127.0.0.1"),
    ),
  );
  t.false(log().includes('wrong'));
});
