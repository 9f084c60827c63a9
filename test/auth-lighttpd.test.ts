/**
 * mod_auth with mod_authn_file under lighttpd 1.4.69 and koa-lighty on the same config and the
 * same user files: Basic over htpasswd (every hash format), plain and htdigest; Digest with
 * MD5, SHA-256, SHA-512-256 and their -sess forms, userhash and username*; `require` lists;
 * rules set in $HTTP blocks; what PHP sees; and every refusal a client can provoke (missing,
 * malformed and wrong credentials, stale and future nonces, a replayed header, another URI).
 * The hashes below were made with glibc's crypt(3), openssl and md5sum/sha256sum.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { digestAuthorization, nonceAt, parseChallenges } from './helpers/digest.js';
import { type RawResponse, rawExchange, rawRequest } from './helpers/http.js';
import { type BothServers, startBoth } from './helpers/same-conf.js';
import { eventually } from './helpers/wait.js';

const root = mkdtempSync(join(tmpdir(), 'koa-lighty-auth-'));
const www = join(root, 'www');
const ENV_PHP = `<?php
foreach (['REMOTE_USER', 'AUTH_TYPE', 'PHP_AUTH_USER', 'MYVAR'] as $k)
  echo $k, '=', var_export($_SERVER[$k] ?? null, true), "\\n";
`;
for (const dir of [
  'basic',
  'dig-htpasswd',
  'users',
  'digest',
  'hd-basic',
  'group',
  'extern',
  'plain/basic',
  'plain/digest',
  'open',
]) {
  mkdirSync(join(www, dir), { recursive: true });
  writeFileSync(join(www, dir, 'a.txt'), `${dir} file\n`);
  writeFileSync(join(www, dir, 'env.php'), ENV_PHP);
}
writeFileSync(join(www, 'basic', 'index.html'), '<p>basic index</p>\n');

/** user → [password, htpasswd line]. */
const HTPASSWD: Record<string, [string, string]> = {
  'apr-user': ['apr-pass', '$apr1$r8GQ2hKp$PRtQzEK69jAvytPa5gA.60'],
  'md5-user': ['md5-pass', '$1$Qx7.ab3Z$evPwQ.jqD3Bc6owd8DlSu/'],
  'sha-user': ['sha-pass', '{SHA}xO2etOilyqtV8o1RvvnmkeBx7QI='],
  'des-user': ['des-pass', 'XyzucOBe2wvgo'],
  'bcrypt-y': ['bcrypt-y-pass', '$2y$05$CCCCCCCCCCCCCCCCCCCCC.62t.IqLvSLpvnuB.4BnNuMgJnYnrvpW'],
  'bcrypt-b': ['bcrypt-b-pass', '$2b$04$abcdefghijklmnopqrstuuJdyYyGmd7XIH7mxwkkzhYkcQHwJznAS'],
  'bcrypt-a': ['bcrypt-a-pass', '$2a$04$ABCDEFGHIJKLMNOPQRSTUui7sXk6h5Mc7jECulegLfe3XKOZPJuUq'],
  'sha256-user': ['sha256-pass', '$5$saltsalt$YiBXXqN1WW5jZx76W2tt5Aar2TjALeybASXr6LtWJt7'],
  'sha512-user': [
    'sha512-pass',
    '$6$rounds=10000$0123456789abcdef$.dZ7qdyOlMBNnb.o7D0v9oNhYlrw9p0GxxYUL4kRyRG7TBa2dyIRz6tcPkJvb8wg7fytkaWbbDl4hCNpEUtyy/',
  ],
  jäger: ['pässwörd', '$apr1$umlaut12$ZWY34zkgORmJYd58cONur.'],
};
const YESCRYPT = 'yes-user:$y$j9T$F5Jx5fExrKuPp53xLKQ..1$n6G1Tw5w7fao78zlwTFGaPleEM/vlTpl2fG4d5b.ED2';
writeFileSync(
  join(root, 'htpasswd'),
  Buffer.from(
    [
      '# made for these tests',
      '',
      ...Object.entries(HTPASSWD).map(([user, [, hash]]) => `${user}:${hash}`),
      YESCRYPT,
      'crlf-user:{SHA}xO2etOilyqtV8o1RvvnmkeBx7QI=\r',
      'not a valid line',
    ].join('\n'),
    'utf8',
  ),
);
// Clear-text passwords (mod_authn_file's "plain").
writeFileSync(join(root, 'plain'), 'plain-user:plain-pass\nkolon:pass:with:colons\n');
// user:realm:H(user:realm:password)[:H(user:realm)], MD5 (htdigest) and SHA-256 lines.
writeFileSync(
  join(root, 'htdigest'),
  [
    'digest-user:Protected area:b9bd8d79412bea5e783c2d31c9aef1ad',
    'digest-user:Protected area:3cc3b3d6a531ebec99fe9004de809a3c5f5950aa45b1afff069a8eb4f438e3be:c44b140f508893c1e238397ada2bf162adc59a76870b42578c527b623b600615',
    'broken line',
    '',
  ].join('\n'),
);

const conf = (dir: string) => `
server.document-root = "${www}"
server.modules = ("mod_auth", "mod_authn_file", "mod_setenv", "mod_fastcgi", "mod_accesslog")
index-file.names = ("index.php", "index.html")
mimetype.assign = (".txt" => "text/plain", ".html" => "text/html")
accesslog.filename = "${dir}/access.log"
fastcgi.server = (".php" => ((
  "bin-path" => "/usr/bin/php-cgi",
  "socket" => "${dir}/php.socket",
  "max-procs" => 1,
  "bin-environment" => ("PHP_FCGI_CHILDREN" => "1"),
)))
setenv.add-environment = ("MYVAR" => "set")
auth.backend = "htpasswd"
auth.backend.htpasswd.userfile = "${root}/htpasswd"
auth.backend.plain.userfile = "${root}/plain"
auth.backend.htdigest.userfile = "${root}/htdigest"
auth.require = (
  "/basic/" => ( "method" => "basic", "realm" => "Basic area", "require" => "valid-user" ),
  "/users/" => ( "method" => "basic", "realm" => "Some users, für alle", "require" => "user=md5-user|user=jäger" ),
  "/digest/" => ( "method" => "digest", "realm" => "Protected area", "require" => "valid-user", "algorithm" => "MD5|SHA-256" ),
  "/hd-basic/" => ( "method" => "basic", "realm" => "Protected area", "require" => "valid-user" ),
  "/group/" => ( "method" => "basic", "realm" => "Groups", "require" => "group=admins|user=nobody" ),
  "/extern/" => ( "method" => "extern", "realm" => "Extern", "require" => "valid-user" ),
  "/dig-htpasswd/" => ( "method" => "digest", "realm" => "Digest area", "require" => "valid-user" ),
)
$HTTP["url"] =~ "^/(digest|hd-basic)/" {
  auth.backend = "htdigest"
}
$HTTP["url"] =^ "/plain/" {
  auth.backend = "plain"
  auth.require = (
    "/plain/basic/" => ( "method" => "basic", "realm" => "Plain", "require" => "valid-user" ),
    "/plain/digest/" => ( "method" => "digest", "realm" => "Plain", "require" => "valid-user", "algorithm" => "SHA-512-256|MD5" ),
  )
}
`;

let servers: BothServers;
test.before(async () => {
  servers = await startBoth(conf);
});
test.after.always(async () => {
  await servers?.close();
  rmSync(root, { recursive: true, force: true });
});

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;

/** A nonce stands for a value each server makes up: its shape is compared, not its digits. */
function challengeShape(header: string | undefined): string | undefined {
  return header?.replace(
    /nonce="[0-9a-f]+:([0-9a-f]+)"/g,
    (_, hash: string) => `nonce="<time>:<${hash.length} hex>"`,
  );
}

/** What a client sees, lighttpd's random nonces aside. */
function view(response: RawResponse) {
  return {
    status: response.status,
    'www-authenticate': challengeShape(response.headers['www-authenticate']),
    'content-type': response.headers['content-type'],
    body: response.body.toString('latin1'),
  };
}

async function same(t: import('ava').ExecutionContext, path: string, headers?: Record<string, string>) {
  const [lighttpd, koa] = await servers.both(path, headers);
  t.deepEqual(view(koa), view(lighttpd), `${path} ${JSON.stringify(headers ?? {})}`);
  return [lighttpd, koa] as const;
}

test('no credentials: 401 with the Basic challenge, charset="UTF-8"', async (t) => {
  const [, koa] = await same(t, '/basic/');
  t.is(koa.status, 401);
  t.is(koa.headers['www-authenticate'], 'Basic realm="Basic area", charset="UTF-8"');
});

test('paths outside every rule are served without credentials', async (t) => {
  const [, koa] = await same(t, '/open/a.txt');
  t.is(koa.status, 200);
});

for (const [user, [password]] of Object.entries(HTPASSWD)) {
  test(`htpasswd ${user}: the right password opens, a wrong one is 401`, async (t) => {
    const [, ok] = await same(t, '/basic/a.txt', { Authorization: basic(user, password) });
    t.is(ok.status, 200);
    const [, wrong] = await same(t, '/basic/a.txt', { Authorization: basic(user, `x${password}`) });
    t.is(wrong.status, 401);
  });
}

test('DES crypt: only the first 8 characters of the password count, in both', async (t) => {
  const [, koa] = await same(t, '/basic/a.txt', { Authorization: basic('des-user', 'des-pass-and-more') });
  t.is(koa.status, 200);
});

test('the scheme name is case-insensitive; a CR ending a line is not part of the hash', async (t) => {
  const [, lower] = await same(t, '/basic/a.txt', {
    Authorization: `basic ${basic('sha-user', 'sha-pass').slice(6)}`,
  });
  t.is(lower.status, 200);
  const [, crlf] = await same(t, '/basic/a.txt', { Authorization: basic('crlf-user', 'sha-pass') });
  t.is(crlf.status, 200);
});

test('an unknown user, a comment line or a broken line is no user', async (t) => {
  for (const user of ['nobody', '# made for these tests', 'not a valid line', '']) {
    const [, koa] = await same(t, '/basic/a.txt', { Authorization: basic(user, 'x') });
    t.is(koa.status, 401);
  }
});

test('malformed Basic credentials: 400 where lighttpd says 400, 401 where it says 401', async (t) => {
  const cases: Array<[string, number]> = [
    ['Basic =', 400], // request.t: Invalid Base64
    ['Basic \x80mFuOmphb', 400], // request.t: Invalid base64 Auth-token
    ['Basic amFu', 400], // "jan": no colon
    ['Basic bm90Oml0Cg==', 401], // request.t: Wrong Auth-token ("not:it\n")
    ['Basic a', 400],
    ['Basic YXByLXVzZXI6YXByLXBhc3M', 200], // unpadded base64
    ['Basic YXBy LXVz ZXI6 YXBy LXBh c3M=', 200], // blanks inside are skipped
    ['Basic YXByLXVzZXI6YXByLXBhc3M=!garbage', 200], // the data ends at the first non-base64 character
    ['Basic', 401],
    ['Basic  ', 401],
    ['Bearer abc', 401],
    ['Digest username="apr-user"', 401],
    [`Basic ${'A'.repeat(1364)}`, 401],
    [`Basic ${'QUFB'.repeat(340)}`, 400], // 1,360 characters: decoded, but no colon
  ];
  for (const [authorization, status] of cases) {
    const [, koa] = await same(t, '/basic/a.txt', { Authorization: authorization });
    t.is(koa.status, status, authorization.slice(0, 40));
  }
});

test('require user=…: only the users it names, whatever their password', async (t) => {
  const [, named] = await same(t, '/users/a.txt', { Authorization: basic('md5-user', 'md5-pass') });
  t.is(named.status, 200);
  const [, utf8] = await same(t, '/users/a.txt', { Authorization: basic('jäger', 'pässwörd') });
  t.is(utf8.status, 200);
  const [, other] = await same(t, '/users/a.txt', { Authorization: basic('apr-user', 'apr-pass') });
  t.is(other.status, 401);
});

test('group= never matches a user of a file backend: nobody gets in', async (t) => {
  const [, koa] = await same(t, '/group/a.txt', { Authorization: basic('apr-user', 'apr-pass') });
  t.is(koa.status, 401);
});

test('extern: nothing set REMOTE_USER before mod_auth, so 401 without a challenge', async (t) => {
  const [, koa] = await same(t, '/extern/a.txt', { Authorization: basic('apr-user', 'apr-pass') });
  t.is(koa.status, 401);
  t.false('www-authenticate' in koa.headers);
});

test('Basic over htdigest and plain files', async (t) => {
  const [, hd] = await same(t, '/hd-basic/a.txt', { Authorization: basic('digest-user', 'digest-pass') });
  t.is(hd.status, 200);
  const [, hdWrong] = await same(t, '/hd-basic/a.txt', { Authorization: basic('digest-user', 'digest-pas') });
  t.is(hdWrong.status, 401);
  const [, plain] = await same(t, '/plain/basic/a.txt', { Authorization: basic('plain-user', 'plain-pass') });
  t.is(plain.status, 200);
  const [, colons] = await same(t, '/plain/basic/a.txt', {
    Authorization: basic('kolon', 'pass:with:colons'),
  });
  t.is(colons.status, 200);
  const [, plainWrong] = await same(t, '/plain/basic/a.txt', { Authorization: basic('plain-user', 'plain') });
  t.is(plainWrong.status, 401);
});

test('PHP sees REMOTE_USER and AUTH_TYPE (before the setenv variables), as under lighttpd', async (t) => {
  const [, koa] = await same(t, '/basic/env.php', { Authorization: basic('jäger', 'pässwörd') });
  t.is(
    koa.body.toString('utf8'),
    "REMOTE_USER='jäger'\nAUTH_TYPE='Basic'\nPHP_AUTH_USER='jäger'\nMYVAR='set'\n",
  );
  const [, open] = await same(t, '/open/env.php');
  t.regex(open.body.toString(), /^REMOTE_USER=NULL\nAUTH_TYPE=NULL\n/);
});

/** Asks each server for its challenge, answers it with these credentials, returns both answers. */
async function digestBoth(
  path: string,
  credentials: { user: string; password: string; algorithm?: string; userhash?: boolean; uri?: string },
  edit: (header: string) => string = (h) => h,
): Promise<[RawResponse, RawResponse]> {
  const answer = async (port: number) => {
    const first = await rawRequest(port, path);
    const challenges = parseChallenges(first.headers['www-authenticate']);
    const wanted = (credentials.algorithm ?? 'MD5').replace(/-sess$/i, '');
    const challenge = challenges.find((c) => c.algorithm === wanted) ?? challenges[0]!;
    const header = digestAuthorization({
      ...credentials,
      uri: credentials.uri ?? path,
      realm: challenge.realm,
      nonce: challenge.nonce,
    });
    return rawRequest(port, path, { Authorization: edit(header) });
  };
  return Promise.all([answer(servers.lighttpd.port), answer(servers.koaPort)]);
}

test('Digest: the challenge offers each algorithm of the rule, strongest first', async (t) => {
  const [lighttpd, koa] = await same(t, '/digest/a.txt');
  t.is(koa.status, 401);
  const lines = (r: RawResponse) =>
    r.headerLines.filter((l) => l.toLowerCase().startsWith('www-authenticate:'));
  t.is(lines(koa).length, 2);
  t.deepEqual(lines(koa).map(challengeShape), lines(lighttpd).map(challengeShape));
  const [, sha512] = await same(t, '/plain/digest/a.txt');
  t.regex(
    sha512.headers['www-authenticate']!,
    /^Digest realm="Plain", charset="UTF-8", algorithm=SHA-512-256, nonce="[0-9a-f]+:[0-9a-f]{64}", qop="auth", Digest realm="Plain", charset="UTF-8", algorithm=MD5, nonce="[0-9a-f]+:[0-9a-f]{32}", qop="auth"$/,
  );
});

for (const algorithm of ['MD5', 'SHA-256', 'MD5-sess', 'SHA-256-sess']) {
  test(`Digest ${algorithm} over htdigest: the right password opens, a wrong one is 401`, async (t) => {
    const [lighttpd, koa] = await digestBoth('/digest/a.txt', {
      user: 'digest-user',
      password: 'digest-pass',
      algorithm,
    });
    t.deepEqual(view(koa), view(lighttpd));
    t.is(koa.status, 200);
    const [wrongL, wrongK] = await digestBoth('/digest/a.txt', {
      user: 'digest-user',
      password: 'nope',
      algorithm,
    });
    t.deepEqual(view(wrongK), view(wrongL));
    t.is(wrongK.status, 401);
  });
}

for (const algorithm of ['MD5', 'SHA-512-256', 'SHA-512-256-sess']) {
  test(`Digest ${algorithm} over a plain file`, async (t) => {
    const [lighttpd, koa] = await digestBoth('/plain/digest/a.txt', {
      user: 'plain-user',
      password: 'plain-pass',
      algorithm,
    });
    t.deepEqual(view(koa), view(lighttpd));
    t.is(koa.status, 200);
    const [unknownL, unknownK] = await digestBoth('/plain/digest/a.txt', {
      user: 'ghost',
      password: 'x',
      algorithm,
    });
    t.deepEqual(view(unknownK), view(unknownL));
    t.is(unknownK.status, 401);
  });
}

test('Digest: an algorithm the rule does not offer is 401', async (t) => {
  const [lighttpd, koa] = await digestBoth('/digest/a.txt', {
    user: 'digest-user',
    password: 'digest-pass',
    algorithm: 'SHA-512-256',
  });
  t.deepEqual(view(koa), view(lighttpd));
  t.is(koa.status, 401);
});

test('Digest userhash: the htdigest line found by its fourth field', async (t) => {
  const [lighttpd, koa] = await digestBoth('/digest/a.txt', {
    user: 'digest-user',
    password: 'digest-pass',
    algorithm: 'SHA-256',
    userhash: true,
  });
  t.deepEqual(view(koa), view(lighttpd));
  t.is(koa.status, 200);
});

test('Digest username*: RFC 5987 names, and the refusals lighttpd gives them', async (t) => {
  const star = (value: string) => (h: string) => h.replace('username="digest-user"', `username*=${value}`);
  const creds = { user: 'digest-user', password: 'digest-pass' };
  const cases: Array<[string, number]> = [
    ["UTF-8''digest%2Duser", 200],
    ["utf-8'en'digest-user", 200],
    ["iso-8859-1''digest-user", 200],
    ["latin1''digest-user", 400],
    ["UTF-8'digest-user", 400],
    ["utf-8''%ff", 400],
  ];
  for (const [value, status] of cases) {
    const [lighttpd, koa] = await digestBoth('/digest/a.txt', creds, star(value));
    t.deepEqual(view(koa), view(lighttpd), value);
    t.is(koa.status, status, value);
  }
  const both = (h: string) =>
    h.replace('username="digest-user"', `username="digest-user", username*=UTF-8''digest-user`);
  const [lighttpd, koa] = await digestBoth('/digest/a.txt', creds, both);
  t.deepEqual(view(koa), view(lighttpd));
  t.is(koa.status, 400);
});

test('Digest: malformed headers are 400 or 401 exactly where lighttpd says so (request.t 101, 114)', async (t) => {
  const creds = { user: 'digest-user', password: 'digest-pass' };
  const edits: Array<[string, (h: string) => string, number]> = [
    ['no nc (noncecount instead)', (h) => h.replace('nc=', 'noncecount='), 400],
    ['no cnonce with qop', (h) => h.replace(/, cnonce="[^"]*"/, ''), 400],
    ['no response', (h) => h.replace(/, response="[^"]*"/, ''), 400],
    ['no uri', (h) => h.replace(/, uri="[^"]*"/, ''), 400],
    ['no realm', (h) => h.replace(/, realm="[^"]*"/, ''), 400],
    ['no nonce', (h) => h.replace(/, nonce="[^"]*"/, ''), 400],
    ['no username', (h) => h.replace(/username="[^"]*", /, ''), 400],
    ['response not hex', (h) => h.replace(/response="[0-9a-f]/, 'response="g'), 400],
    ['response too short', (h) => h.replace(/response="[0-9a-f]{2}/, 'response="'), 400],
    ['qop=auth-int', (h) => h.replace('qop=auth', 'qop=auth-int'), 400],
    ['another uri', (h) => h.replace('uri="/digest/a.txt"', 'uri="/digest/b.txt"'), 400],
    ['another realm', (h) => h.replace('realm="Protected area"', 'realm="Other"'), 401],
    ['unknown algorithm', (h) => h.replace('algorithm=MD5', 'algorithm=SHA-1'), 401],
    [
      'md5-sess without cnonce',
      (h) =>
        h
          .replace('algorithm=MD5', 'algorithm="md5-sess"')
          .replace(/, cnonce="[^"]*"/, '')
          .replace(/, qop=auth/, ''),
      400,
    ],
    ['no qop (RFC 2069), wrong response', (h) => h.replace(/, qop=auth, nc=[^,]*, cnonce="[^"]*"/, ''), 401],
    ['unterminated quote', (h) => h.replace(/"$/, ''), 400],
    ['blanks around =', (h) => h.replace(/=/g, ' = '), 200],
    ['lower-case scheme', (h) => h.replace('Digest ', 'digest '), 200],
  ];
  for (const [what, edit, status] of edits) {
    const [lighttpd, koa] = await digestBoth('/digest/a.txt', creds, edit);
    t.deepEqual(view(koa), view(lighttpd), what);
    t.is(koa.status, status, what);
  }
});

test('Digest: a stale or future nonce is 401 with stale=true for the algorithm used (request.t 115, 116)', async (t) => {
  const now = Date.now() / 1000;
  for (const [what, nonce] of [
    ['11 minutes old', nonceAt(now - 660)],
    ['an hour ahead', nonceAt(now + 3600)],
    ['no time', 'b3b26457000000003a9b34a3cd56d26e48a52a498ac9765d4b'],
  ] as const) {
    const edit = (h: string) => h.replace(/nonce="[^"]*"/, `nonce="${nonce}"`);
    for (const algorithm of ['MD5', 'SHA-256']) {
      const [lighttpd, koa] = await digestBoth(
        '/digest/a.txt',
        { user: 'digest-user', password: 'digest-pass', algorithm },
        edit,
      );
      t.deepEqual(view(koa), view(lighttpd), `${what} ${algorithm}`);
      t.is(koa.status, 401);
      t.regex(
        koa.headers['www-authenticate']!,
        new RegExp(
          `^Digest realm="Protected area", charset="UTF-8", algorithm=${algorithm}, nonce="[^"]+", qop="auth", stale=true$`,
        ),
      );
    }
  }
});

test('Digest: a nonce older than 9 minutes still works and brings a nextnonce', async (t) => {
  const nonce = nonceAt(Date.now() / 1000 - 560);
  const authorization = digestAuthorization({
    user: 'digest-user',
    password: 'digest-pass',
    uri: '/digest/a.txt',
    realm: 'Protected area',
    nonce,
  });
  const [lighttpd, koa] = await servers.both('/digest/a.txt', { Authorization: authorization });
  t.deepEqual(view(koa), view(lighttpd));
  t.is(koa.status, 200);
  t.regex(lighttpd.headers['authentication-info'] ?? '', /^nextnonce="[0-9a-f]+:[0-9a-f]{32}"$/);
  t.regex(koa.headers['authentication-info'] ?? '', /^nextnonce="[0-9a-f]+:[0-9a-f]{32}"$/);
});

test('Digest: a captured header works again for the same URI while its nonce lasts, as in lighttpd', async (t) => {
  const nonce = nonceAt(Date.now() / 1000 - 5);
  const authorization = digestAuthorization({
    user: 'digest-user',
    password: 'digest-pass',
    uri: '/digest/a.txt',
    realm: 'Protected area',
    nonce,
  });
  for (let i = 0; i < 2; i++) {
    const [, koa] = await same(t, '/digest/a.txt', { Authorization: authorization });
    t.is(koa.status, 200);
  }
  // …but not for another URI: the digest covers the request-target.
  const [, other] = await same(t, '/digest/env.php', { Authorization: authorization });
  t.is(other.status, 400);
});

test('Digest: PHP sees REMOTE_USER and AUTH_TYPE=Digest', async (t) => {
  const [lighttpd, koa] = await digestBoth('/digest/env.php', {
    user: 'digest-user',
    password: 'digest-pass',
  });
  // php-cgi keeps PHP_AUTH_USER from an earlier Basic request of the same worker: not compared.
  const auth = (r: RawResponse) => r.body.toString().replace(/^PHP_AUTH_USER=.*\n/m, '');
  t.is(koa.status, 200);
  t.is(auth(koa), auth(lighttpd));
  t.is(auth(koa), "REMOTE_USER='digest-user'\nAUTH_TYPE='Digest'\nMYVAR='set'\n");
});

test('Digest over htpasswd: 500, as in lighttpd', async (t) => {
  const [, koa] = await same(t, '/dig-htpasswd/a.txt');
  t.is(koa.status, 500);
  t.true(
    servers.koaLog.lines.includes(
      '(mod_auth) auth.require "method" => "digest" invalid (try "basic"?) for /dig-htpasswd/a.txt',
    ),
  );
});

/**
 * A keep-alive request, then a second one that asks to close (so the exchange ends either
 * way): whether the server said it would close the connection after the first.
 */
async function closes(port: number, authorization?: string): Promise<boolean> {
  const lines = ['GET /basic/a.txt HTTP/1.1', 'Host: 127.0.0.1'];
  if (authorization) lines.push(`Authorization: ${authorization}`);
  const second = 'GET /open/a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n';
  const response = await rawExchange(port, Buffer.from(`${lines.join('\r\n')}\r\n\r\n${second}`, 'latin1'));
  return /\bclose\b/i.test(response.headers['connection'] ?? '');
}

test('a wrong password ends the connection; a missing one does not', async (t) => {
  for (const port of [servers.lighttpd.port, servers.koaPort]) {
    t.false(await closes(port), `no credentials, port ${port}`);
    t.true(await closes(port, basic('apr-user', 'wrong')), `wrong password, port ${port}`);
    t.false(await closes(port, basic('apr-user', 'apr-pass')), `right password, port ${port}`);
  }
});

test('no password, nor its base64, reaches the error log or the access log', async (t) => {
  const secret = 'Leaky-Secret-42';
  const sent = [
    basic('apr-user', secret),
    basic('nobody', secret),
    `Basic ${Buffer.from(`${secret}`).toString('base64')}`, // no colon: lighttpd logs the decoded text
    `Basic ${Buffer.from(`x:${secret}`).toString('base64')}\x01=`,
    `Basic ${Buffer.from(`x:${secret}`).toString('base64').slice(0, -1)}\x7f`, // broken base64
  ];
  for (const authorization of sent) await servers.both('/basic/a.txt', { Authorization: authorization });
  await servers.both('/basic/a.txt', { Authorization: basic('apr-user', 'apr-pass') });
  const logs = [
    servers.koaLog.lines.join('\n'),
    readFileSync(join(servers.dirs.koa, 'access.log'), 'latin1'),
  ].join('\n');
  t.true(logs.includes('apr-user'), 'the logs name the user');
  for (const leak of [
    secret,
    Buffer.from(secret).toString('base64').slice(0, 12),
    ...sent.map((s) => s.slice(6, 30)),
  ])
    t.false(logs.includes(leak), leak);
  t.true(
    servers.koaLog.lines.some((l) =>
      l.includes("password doesn't match for /basic/a.txt username: nobody IP: 127.0.0.1"),
    ),
  );
});

test('the access log names the user (%u) as lighttpd does', async (t) => {
  await servers.both('/basic/a.txt?user-log', { Authorization: basic('md5-user', 'md5-pass') });
  const user = (dir: string) => {
    try {
      return readFileSync(join(dir, 'access.log'), 'latin1')
        .split('\n')
        .find((l) => l.includes('?user-log'))
        ?.split(' ')[2];
    } catch {
      return undefined;
    }
  };
  // lighttpd writes its access log in batches.
  await eventually(() => user(servers.dirs.lighttpd) !== undefined, 15_000);
  t.is(user(servers.dirs.lighttpd), 'md5-user');
  await eventually(() => user(servers.dirs.koa) !== undefined);
  t.is(user(servers.dirs.koa), 'md5-user');
});
