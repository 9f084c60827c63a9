/**
 * mod_auth around the rest of the server, lighttpd 1.4.69 and koa-lighty on the same configs:
 * the user file read again when it changes (and not while auth.cache remembers a login), the
 * challenge kept on error pages and error handlers, server.modules deciding between mod_auth
 * and mod_access, server.force-lowercase-filenames (request.t 86, 87). And the deliberate
 * differences: nonce-secret nonces that work, and hashes koa-lighty cannot check refused.
 */
import { mkdirSync, mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { digestAuthorization, nonceAt, parseChallenges } from './helpers/digest.js';
import { type RawResponse, rawRequest } from './helpers/http.js';
import { type BothServers, startBoth } from './helpers/same-conf.js';

const root = mkdtempSync(join(tmpdir(), 'koa-lighty-auth-more-'));
const www = join(root, 'www');
for (const dir of ['sec', 'admin']) mkdirSync(join(www, dir), { recursive: true });
writeFileSync(join(www, 'sec', 'a.txt'), 'protected\n');
writeFileSync(join(www, 'admin', 'secret.inc'), 'config\n');
writeFileSync(join(www, 'image.jpg'), 'jpeg\n');
writeFileSync(join(www, 'err.html'), 'error handler page\n');
writeFileSync(join(www, 'e-401.html'), '<h1>custom 401</h1>\n');
const users = join(root, 'users');
const cachedUsers = join(root, 'cached-users');
writeFileSync(users, 'alice:first\n');
writeFileSync(cachedUsers, 'alice:first\n');
const htpasswd = join(root, 'htpasswd');
writeFileSync(
  htpasswd,
  'yes-user:$y$j9T$F5Jx5fExrKuPp53xLKQ..1$n6G1Tw5w7fao78zlwTFGaPleEM/vlTpl2fG4d5b.ED2\n',
);

const base = `
server.document-root = "${www}"
mimetype.assign = (".txt" => "text/plain", ".html" => "text/html", ".jpg" => "image/jpeg")
`;
const SEC = '"/sec/" => ( "method" => "basic", "realm" => "R", "require" => "valid-user" )';

const confs = {
  files: () => `${base}
server.modules = ("mod_auth", "mod_authn_file")
auth.backend = "plain"
auth.backend.plain.userfile = "${users}"
auth.require = ( ${SEC} )
$HTTP["url"] =^ "/cached/" {
  auth.backend.plain.userfile = "${cachedUsers}"
  auth.cache = ( "max-age" => "600" )
  auth.require = ( "/cached/" => ( "method" => "basic", "realm" => "R", "require" => "valid-user" ) )
}
`,
  handler: () => `${base}
server.modules = ("mod_auth", "mod_authn_file")
auth.backend = "plain"
auth.backend.plain.userfile = "${users}"
auth.require = ( ${SEC} )
server.error-handler = "/err.html"
`,
  errorfile: () => `${base}
server.modules = ("mod_auth", "mod_authn_file")
auth.backend = "plain"
auth.backend.plain.userfile = "${users}"
auth.require = ( ${SEC} )
server.errorfile-prefix = "${www}/e-"
`,
  accessFirst: () => `${base}
server.modules = ("mod_access", "mod_auth", "mod_authn_file")
url.access-deny = (".inc")
auth.backend = "plain"
auth.backend.plain.userfile = "${users}"
auth.require = ( "/admin/" => ( "method" => "basic", "realm" => "R", "require" => "valid-user" ) )
`,
  authFirst: () => `${base}
server.modules = ("mod_auth", "mod_authn_file", "mod_access")
url.access-deny = (".inc")
auth.backend = "plain"
auth.backend.plain.userfile = "${users}"
auth.require = ( "/admin/" => ( "method" => "basic", "realm" => "R", "require" => "valid-user" ) )
`,
  lowercase: () => `${base}
server.modules = ("mod_auth", "mod_authn_file")
$HTTP["host"] =~ "" {
  server.force-lowercase-filenames = "enable"
  auth.backend = "plain"
  auth.backend.plain.userfile = "${users}"
  auth.require = ( "/image.jpg" => ( "method" => "digest", "realm" => "download archiv", "require" => "valid-user" ) )
}
`,
  differences: () => `${base}
server.modules = ("mod_auth", "mod_authn_file")
auth.backend = "plain"
auth.backend.plain.userfile = "${users}"
auth.require = (
  "/sec/" => ( "method" => "digest", "realm" => "R", "require" => "valid-user", "nonce-secret" => "s3cret" ),
  "/admin/" => ( "method" => "basic", "realm" => "R", "require" => "valid-user" ),
)
$HTTP["url"] =^ "/admin/" {
  auth.backend = "htpasswd"
  auth.backend.htpasswd.userfile = "${htpasswd}"
}
`,
};
type Name = keyof typeof confs;
const servers = {} as Record<Name, BothServers>;
test.before(async () => {
  const names = Object.keys(confs) as Name[];
  const started = await Promise.all(names.map((name) => startBoth(confs[name])));
  names.forEach((name, i) => {
    servers[name] = started[i]!;
  });
});
test.after.always(async () => {
  await Promise.allSettled(Object.values(servers).map((s) => s.close()));
  rmSync(root, { recursive: true, force: true });
});

const basic = (user: string, password: string) => ({
  Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
});

const view = (r: RawResponse) => ({
  status: r.status,
  // Each server makes up its own nonces: their shape is compared.
  'www-authenticate': r.headers['www-authenticate']?.replace(/nonce="[^"]*"/g, (n) =>
    n.replace(/[0-9a-f]/g, 'x'),
  ),
  body: r.body.toString('latin1'),
});

/** Both servers' statuses for the same request, after checking they agree on what a user sees. */
async function statuses(
  t: import('ava').ExecutionContext,
  on: BothServers,
  path: string,
  headers?: Record<string, string>,
) {
  const [lighttpd, koa] = await on.both(path, headers);
  t.deepEqual(view(koa), view(lighttpd), `${path} ${JSON.stringify(headers ?? {})}`);
  return koa.status;
}

test.serial('the user file is read again when it changes: edited, replaced, removed', async (t) => {
  const on = servers.files;
  t.is(await statuses(t, on, '/sec/a.txt', basic('alice', 'first')), 200);
  // Edited in place, same length.
  writeFileSync(users, 'alice:other\n');
  t.is(await statuses(t, on, '/sec/a.txt', basic('alice', 'first')), 401);
  t.is(await statuses(t, on, '/sec/a.txt', basic('alice', 'other')), 200);
  // Replaced by rename (a new inode), with a new user.
  writeFileSync(`${users}.new`, 'alice:other\nbob:builder\n');
  renameSync(`${users}.new`, users);
  t.is(await statuses(t, on, '/sec/a.txt', basic('bob', 'builder')), 200);
  // Gone: nobody gets in.
  unlinkSync(users);
  t.is(await statuses(t, on, '/sec/a.txt', basic('bob', 'builder')), 401);
  t.true(on.koaLog.lines.some((line) => line.includes(`opening ${users} failed: ENOENT`)));
  writeFileSync(users, 'alice:first\n');
  t.is(await statuses(t, on, '/sec/a.txt', basic('alice', 'first')), 200);
});

test.serial(
  'auth.cache: a remembered login outlives a password change, and the new password waits',
  async (t) => {
    const on = servers.files;
    t.is(await statuses(t, on, '/cached/x.txt', basic('alice', 'first')), 404);
    writeFileSync(cachedUsers, 'alice:second\n');
    // lighttpd compares with the remembered password, not the file, until max-age has passed.
    t.is(await statuses(t, on, '/cached/x.txt', basic('alice', 'first')), 404);
    t.is(await statuses(t, on, '/cached/x.txt', basic('alice', 'second')), 401);
    // A user not remembered is read from the file.
    writeFileSync(cachedUsers, 'alice:second\ncarol:c\n');
    t.is(await statuses(t, on, '/cached/x.txt', basic('carol', 'c')), 404);
  },
);

for (const name of ['handler', 'errorfile'] as const) {
  test(`the 401 keeps its challenge with server.${name === 'handler' ? 'error-handler' : 'errorfile-prefix'}`, async (t) => {
    const on = servers[name];
    for (const headers of [undefined, basic('alice', 'wrong'), { Authorization: 'Basic =' }]) {
      const [lighttpd, koa] = await on.both('/sec/a.txt', headers);
      t.deepEqual(view(koa), view(lighttpd));
    }
    const [, koa] = await on.both('/sec/a.txt');
    t.is(koa.status, 401);
    t.is(koa.headers['www-authenticate'], 'Basic realm="R", charset="UTF-8"');
    t.not(koa.body.toString(), '');
  });
}

test('server.modules decides: mod_access listed first denies (403) before mod_auth asks (401)', async (t) => {
  t.is(await statuses(t, servers.accessFirst, '/admin/secret.inc'), 403);
  t.is(await statuses(t, servers.authFirst, '/admin/secret.inc'), 401);
  t.is(await statuses(t, servers.authFirst, '/admin/secret.inc', basic('alice', 'first')), 403);
});

test('server.force-lowercase-filenames: the rule matches whatever the case (request.t 86, 87)', async (t) => {
  t.is(await statuses(t, servers.lowercase, '/image.JPG'), 401);
  t.is(await statuses(t, servers.lowercase, '/image.jpg'), 401);
});

test('nonce-secret: koa-lighty accepts its own nonces (lighttpd 1.4.69 accepts none) and refuses forged ones', async (t) => {
  const on = servers.differences;
  const login = async (port: number, forge = false) => {
    const challenge = parseChallenges((await rawRequest(port, '/sec/a.txt')).headers['www-authenticate'])[0]!;
    t.regex(challenge.nonce, /^[0-9a-f]+:[0-9a-f]+:[0-9a-f]{32}$/);
    const nonce = forge ? nonceAt(Date.now() / 1000 - 5).replace(':', ':12345678:') : challenge.nonce;
    const Authorization = digestAuthorization({
      user: 'alice',
      password: 'first',
      uri: '/sec/a.txt',
      realm: 'R',
      nonce,
    });
    return rawRequest(port, '/sec/a.txt', { Authorization });
  };
  t.is((await login(on.koaPort)).status, 200);
  t.is((await login(on.lighttpd.port)).status, 401, 'lighttpd 1.4.69 rejects every nonce-secret nonce');
  for (const port of [on.koaPort, on.lighttpd.port]) {
    const forged = await login(port, true);
    t.is(forged.status, 401);
    t.false(forged.headers['www-authenticate']!.includes('stale=true'));
  }
});

test('a hash koa-lighty cannot check (yescrypt) is refused, where lighttpd lets the user in', async (t) => {
  const [lighttpd, koa] = await servers.differences.both('/admin/secret.inc', basic('yes-user', 'yes-pass'));
  t.is(lighttpd.status, 200);
  t.is(koa.status, 401);
  t.true(
    servers.differences.koaLog.lines.some((line) =>
      line.includes(
        'user yes-user: the password hash is yescrypt ($y$), which koa-lighty cannot check: refused',
      ),
    ),
  );
});
