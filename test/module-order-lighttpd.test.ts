/**
 * The module table orders stages by lighttpd's hooks, then by server.modules: compared with
 * lighttpd 1.4.69 where the order decides the answer. mod_redirect and mod_access share
 * lighttpd's uri_clean hook, so with Debian's order (mod_access before mod_redirect) a denied
 * URL is a 403 even when a redirect rule matches it; listed the other way round it redirects.
 * mod_rewrite's URL rules come before both, wherever it is listed.
 */
import { join } from 'node:path';
import test from 'ava';
import { PACKAGE_ROOT } from './helpers/koa-lighty.js';
import { seen, startBoth } from './helpers/same-conf.js';

const WWW = join(PACKAGE_ROOT, 'fixtures', 'conf', 'hooks', 'www');

const conf = (modules: string[]) => () =>
  [
    `server.modules = ( ${modules.map((m) => `"${m}"`).join(', ')} )`,
    `server.document-root = "${WWW}"`,
    'url.access-deny = ( ".inc" )',
    'url.redirect = ( "^/old/(.*)$" => "/new/$1" )',
    '',
  ].join('\n');

for (const modules of [
  ['mod_indexfile', 'mod_access', 'mod_alias', 'mod_redirect'], // Debian's lighttpd.conf
  ['mod_redirect', 'mod_access'],
]) {
  test(`server.modules ${modules.join(', ')}: a URL both denied and redirected`, async (t) => {
    const servers = await startBoth(conf(modules));
    t.teardown(() => servers.close());
    const first = modules.indexOf('mod_access') < modules.indexOf('mod_redirect') ? 403 : 301;
    for (const path of ['/old/notes.inc', '/old/page.html']) {
      const [expected, actual] = await servers.both(path);
      if (path.endsWith('.inc'))
        t.is(expected.status, first, 'lighttpd: the first module of the hook answers');
      t.deepEqual(seen(actual), seen(expected), path);
    }
  });
}

test('mod_rewrite runs before the uri_clean modules whatever server.modules says (its uri_raw hook)', async (t) => {
  const servers = await startBoth(() =>
    [
      'server.modules = ( "mod_access", "mod_redirect", "mod_rewrite" )',
      `server.document-root = "${WWW}"`,
      'url.access-deny = ( ".inc" )',
      'url.redirect = ( "^/new/(.*)$" => "/newer/$1" )',
      'url.rewrite-once = ( "^/old/(.*)$" => "/new/$1", "^/hidden/(.*)$" => "/$1.inc" )',
      '',
    ].join('\n'),
  );
  t.teardown(() => servers.close());
  for (const path of ['/old/page.html', '/hidden/notes']) {
    const [expected, actual] = await servers.both(path);
    t.deepEqual(seen(actual), seen(expected), path);
  }
  const [redirected] = await servers.both('/old/page.html');
  t.is(redirected.headers.location, '/newer/page.html');
  const [denied] = await servers.both('/hidden/notes');
  t.is(denied.status, 403);
});
