/**
 * basicAuth(), digestAuth() and authRequire() as a Koa user mounts them, without any
 * lighttpd.conf: the same user-file backends, the user for the stages after them, bad options
 * refused when the middleware is made, and auth.cache's expiry.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import Koa from 'koa';
import { AuthCache } from '../src/auth/cache.js';
import { authRequire, basicAuth, digestAuth, memoryLogger, OptionError, requestState } from '../src/index.js';
import { digestAuthorization, parseChallenges } from './helpers/digest.js';
import { rawRequest, serve } from './helpers/http.js';

const dir = mkdtempSync(join(tmpdir(), 'koa-lighty-auth-mw-'));
const htpasswd = join(dir, 'htpasswd');
const htdigest = join(dir, 'htdigest');
writeFileSync(htpasswd, 'alice:$apr1$r8GQ2hKp$PRtQzEK69jAvytPa5gA.60\n'); // apr-pass
writeFileSync(htdigest, 'digest-user:Protected area:b9bd8d79412bea5e783c2d31c9aef1ad\n'); // digest-pass
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

/** An app: the auth middleware, then a stage that shows who it was told the user is. */
async function app(auth: Koa.Middleware) {
  const koa = new Koa();
  koa.use(auth);
  koa.use((ctx) => {
    const state = requestState(ctx);
    ctx.body = `user=${state.remoteUser} type=${state.authType}`;
  });
  return serve(koa);
}

const basic = (user: string, password: string) => ({
  Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
});

test('basicAuth over an htpasswd file protects every request and names the user', async (t) => {
  const log = memoryLogger();
  const served = await app(basicAuth({ realm: 'Admin', backend: 'htpasswd', userFile: htpasswd, log }));
  t.teardown(() => served.close());
  const none = await rawRequest(served.port, '/anything');
  t.is(none.status, 401);
  t.is(none.headers['www-authenticate'], 'Basic realm="Admin", charset="UTF-8"');
  const ok = await rawRequest(served.port, '/anything', basic('alice', 'apr-pass'));
  t.is(ok.status, 200);
  t.is(ok.body.toString(), 'user=alice type=Basic');
  const wrong = await rawRequest(served.port, '/anything', basic('alice', 'apr'));
  t.is(wrong.status, 401);
  t.is(wrong.headers['connection'], 'close');
  t.true(log.lines.includes("(mod_auth) password doesn't match for /anything username: alice IP: 127.0.0.1"));
});

test('digestAuth over an htdigest file: challenge, answer, user', async (t) => {
  const served = await app(
    digestAuth({ realm: 'Protected area', backend: 'htdigest', userFile: htdigest, log: memoryLogger() }),
  );
  t.teardown(() => served.close());
  const first = await rawRequest(served.port, '/page?x=1');
  t.is(first.status, 401);
  const [challenge] = parseChallenges(first.headers['www-authenticate']);
  t.is(challenge!.algorithm, 'MD5');
  const Authorization = digestAuthorization({
    user: 'digest-user',
    password: 'digest-pass',
    uri: '/page?x=1',
    realm: challenge!.realm,
    nonce: challenge!.nonce,
  });
  const ok = await rawRequest(served.port, '/page?x=1', { Authorization });
  t.is(ok.status, 200);
  t.is(ok.body.toString(), 'user=digest-user type=Digest');
});

test('authRequire: rules by path prefix, the first that matches deciding', async (t) => {
  const served = await app(
    authRequire({
      rules: [
        { path: '/admin/public/', method: 'basic', realm: 'Public', require: 'user=nobody' },
        { path: '/admin/', method: 'basic', realm: 'Admin' },
      ],
      backend: 'htpasswd',
      userFile: htpasswd,
      log: memoryLogger(),
      delayInvalidCredentials: false,
    }),
  );
  t.teardown(() => served.close());
  t.is((await rawRequest(served.port, '/open')).body.toString(), 'user=undefined type=undefined');
  t.is((await rawRequest(served.port, '/admin/x', basic('alice', 'apr-pass'))).status, 200);
  const publicArea = await rawRequest(served.port, '/admin/public/x', basic('alice', 'apr-pass'));
  t.is(publicArea.status, 401);
  t.is(publicArea.headers['www-authenticate'], 'Basic realm="Public", charset="UTF-8"');
});

test('extern and externAuthn: a user an earlier stage vouches for (a TLS client certificate, say)', async (t) => {
  const koa = new Koa();
  koa.use((ctx, next) => {
    const user = ctx.get('X-Test-Cert-User');
    if (user) requestState(ctx).remoteUser = user;
    return next();
  });
  koa.use(
    authRequire({
      rules: [
        { path: '/extern/', method: 'extern', realm: 'E', require: 'user=carol' },
        { path: '/basic/', method: 'basic', realm: 'B' },
      ],
      backend: 'htpasswd',
      userFile: htpasswd,
      externAuthn: true,
      log: memoryLogger(),
    }),
  );
  koa.use((ctx) => {
    ctx.body = `user=${requestState(ctx).remoteUser}`;
  });
  const served = await serve(koa);
  t.teardown(() => served.close());
  t.is((await rawRequest(served.port, '/extern/x', { 'X-Test-Cert-User': 'carol' })).status, 200);
  const other = await rawRequest(served.port, '/extern/x', { 'X-Test-Cert-User': 'dave' });
  t.is(other.status, 401);
  t.false('www-authenticate' in other.headers);
  t.is((await rawRequest(served.port, '/extern/x')).status, 401);
  // externAuthn: the vouched-for user passes a Basic rule without credentials.
  t.is(
    (await rawRequest(served.port, '/basic/x', { 'X-Test-Cert-User': 'dave' })).body.toString(),
    'user=dave',
  );
  t.is((await rawRequest(served.port, '/basic/x')).status, 401);
});

test('a rule without a backend answers 500 and says why, as lighttpd', async (t) => {
  const log = memoryLogger();
  const served = await app(authRequire({ rules: [{ path: '/', method: 'basic', realm: 'r' }], log }));
  t.teardown(() => served.close());
  t.is((await rawRequest(served.port, '/x', basic('alice', 'apr-pass'))).status, 500);
  t.deepEqual(log.lines, ['(mod_auth) auth.backend not configured for /x']);
});

test('options that cannot work throw an OptionError when the middleware is made', (t) => {
  const cases: Array<[() => unknown, RegExp]> = [
    [
      // A JavaScript caller can pass what the types forbid.
      () => digestAuth({ realm: 'r', backend: 'htpasswd' as 'plain', userFile: htpasswd }),
      /htpasswd file holds no digest/,
    ],
    [() => basicAuth({ realm: 'r', backend: 'htpasswd', userFile: '' }), /a user file is required/],
    [() => basicAuth({ realm: 'a\r\nb', backend: 'htpasswd', userFile: htpasswd }), /control characters/],
    [
      () => basicAuth({ realm: 'r', backend: 'htpasswd', userFile: htpasswd, require: 'admins' }),
      /missing '='/,
    ],
    [
      () => digestAuth({ realm: 'r', backend: 'plain', userFile: htpasswd, algorithm: 'SHA-1' }),
      /invalid algorithm/,
    ],
    // @ts-expect-error: not a method
    [() => authRequire({ rules: [{ path: '/', method: 'ntlm', realm: 'r' }] }), /unknown method "ntlm"/],
    // @ts-expect-error: not a backend
    [() => authRequire({ rules: [], backend: 'ldap' }), /auth\.backend not supported: ldap/],
  ];
  for (const [make, message] of cases) {
    const error = t.throws(make, { instanceOf: OptionError });
    t.regex(error!.message, message);
  }
});

test('the auth cache forgets a login after max-age seconds, and keeps no password', (t) => {
  let now = 1000;
  const cache = new AuthCache(600, () => now);
  const rule = {};
  const password = Buffer.from('secret');
  cache.rememberBasic(rule, 'alice', password);
  t.true(cache.basic(rule, 'alice', Buffer.from('secret')));
  t.false(cache.basic(rule, 'alice', Buffer.from('other')));
  t.is(cache.basic({}, 'alice', password), undefined, 'another rule');
  now += 600;
  t.true(cache.basic(rule, 'alice', password));
  now += 1;
  t.is(cache.basic(rule, 'alice', password), undefined);
  t.false(JSON.stringify(Object.entries(cache)).includes('secret'));
});
