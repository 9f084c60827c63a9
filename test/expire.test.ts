/**
 * expires() as a Koa user mounts it: rules as an object or as ordered pairs, with Koa's own
 * answers and with staticFiles (whose file step gives "modification" its mtime), and the
 * OptionError a bad expression throws when the middleware is made.
 */
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import Koa from 'koa';
import { expires, parseExpireExpression } from '../src/middleware/expire.js';
import { staticFiles } from '../src/middleware/static.js';
import { OptionError } from '../src/option-error.js';
import { rawExchange, rawRequest, serve } from './helpers/http.js';

const MTIME = Date.UTC(2100, 0, 1) / 1000;
const root = mkdtempSync(join(tmpdir(), 'koa-lighty-expires-'));
writeFileSync(join(root, 'a.txt'), 'a\n');
utimesSync(join(root, 'a.txt'), MTIME, MTIME);
test.after.always(() => rmSync(root, { recursive: true, force: true }));

async function app(t: import('ava').ExecutionContext, ...stages: Koa.Middleware[]) {
  const koa = new Koa();
  for (const stage of stages) koa.use(stage);
  const served = await serve(koa);
  t.teardown(served.close);
  return served.port;
}

const answer =
  (type: string, status = 200): Koa.Middleware =>
  (ctx) => {
    if (status >= 400) ctx.throw(status);
    ctx.status = status;
    ctx.type = type;
    ctx.body = 'x';
  };

test('an object of rules: the URL prefix, else the Content-Type prefix ("image/*" is "image/")', async (t) => {
  const port = await app(
    t,
    expires({ url: { '/assets/': 'access plus 1 days' }, mimetypes: { 'image/*': 'access plus 2 hours' } }),
    answer('image/png'),
  );
  t.is((await rawRequest(port, '/assets/x.png')).headers['cache-control'], 'max-age=86400');
  t.is((await rawRequest(port, '/x.png')).headers['cache-control'], 'max-age=7200');
});

test('pairs keep their order: the first matching prefix wins', async (t) => {
  const port = await app(
    t,
    expires({
      url: [
        ['/a/', 'access plus 1 minutes'],
        ['/', 'access plus 1 hours'],
      ],
    }),
    answer('text/plain'),
  );
  t.is((await rawRequest(port, '/a/b')).headers['cache-control'], 'max-age=60');
  t.is((await rawRequest(port, '/b')).headers['cache-control'], 'max-age=3600');
});

test('HTTP/1.0 gets Expires, as many seconds after Date as the rule says', async (t) => {
  const port = await app(t, expires({ url: { '': 'access plus 90 seconds' } }), answer('text/plain'));
  const response = await rawExchange(port, Buffer.from('GET /x HTTP/1.0\r\nHost: a\r\n\r\n'));
  t.false('cache-control' in response.headers);
  t.is(Date.parse(response.headers['expires']!) - Date.parse(response.headers['date']!), 90_000);
});

test('errors, 304 and an answer with its own Cache-Control are left alone', async (t) => {
  const rules = { url: { '': 'access plus 1 hours' } };
  const notFound = await app(t, expires(rules), answer('text/plain', 404));
  t.false('cache-control' in (await rawRequest(notFound, '/x')).headers);
  const notModified = await app(t, expires(rules), answer('text/plain', 304));
  t.false('cache-control' in (await rawRequest(notModified, '/x')).headers);
  const own = await app(t, expires(rules), (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = 'x';
  });
  t.is((await rawRequest(own, '/x')).headers['cache-control'], 'no-store');
});

test('modification counts from the mtime staticFiles found, and is skipped without a file', async (t) => {
  const rules = { url: { '': 'modification plus 1 days' } };
  const withFiles = await app(t, expires(rules), staticFiles({ documentRoot: root }));
  const response = await rawRequest(withFiles, '/a.txt');
  const maxAge = Number(/^max-age=(\d+)$/.exec(response.headers['cache-control']!)![1]);
  t.is(Date.parse(response.headers['date']!) / 1000 + maxAge, MTIME + 86400);
  const withoutFiles = await app(t, expires(rules), answer('text/plain'));
  t.false('cache-control' in (await rawRequest(withoutFiles, '/a.txt')).headers);
});

test('a bad expression is an OptionError naming the option, when the middleware is made', (t) => {
  const url = t.throws(() => expires({ url: { '/': 'access plus 1 hourz' } }), { instanceOf: OptionError });
  t.is(url?.option, 'url');
  t.is(url?.code, 'ERR_EXPIRE_EXPRESSION');
  t.regex(url!.reason, /unknown unit "hourz"/);
  const type = t.throws(() => expires({ mimetypes: [['image/', 'soon']] }), { instanceOf: OptionError });
  t.is(type?.option, 'mimetypes');
});

test('parseExpireExpression reads what lighttpd reads', (t) => {
  t.deepEqual(parseExpireExpression('access plus 1 hours'), { base: 'access', seconds: 3600 });
  t.deepEqual(parseExpireExpression('now 2 days 3 minutes'), { base: 'access', seconds: 2 * 86400 + 180 });
  t.deepEqual(parseExpireExpression('modification plus 1 year'), {
    base: 'modification',
    seconds: 31_104_000,
  });
  t.deepEqual(parseExpireExpression('access plus 70 years'), { base: 'access', seconds: -2117687296 });
  t.is(typeof parseExpireExpression('access plus 1'), 'string');
  t.is(typeof parseExpireExpression(''), 'string');
});
