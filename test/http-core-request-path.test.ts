import test from 'ava';
import { BadRequestTarget, normaliseTarget, simplifyPath } from '../src/http/request-path.js';

/** Spec 1.1: what every stage sees as uri.path and the query, for a request-target. */
const VECTORS: Array<[target: string, path: string, query: string]> = [
  ['/', '/', ''],
  ['/index.html', '/index.html', ''],
  ['/sub/../config.inc', '/config.inc', ''],
  ['/dl/mac/ts/dir/../a.txt', '/dl/mac/ts/a.txt', ''],
  ['//a//b', '/a/b', ''],
  ['/./a/./b', '/a/b', ''],
  ['/a/.', '/a/', ''],
  ['/a/..', '/', ''],
  ['/a/b/..', '/a/', ''],
  ['/../../etc/passwd', '/etc/passwd', ''],
  ['/%2e%2e/%2E%2E/etc/passwd', '/etc/passwd', ''],
  ['/sub/..%2fconfig.inc', '/config.inc', ''],
  ['/sub%2Fpage.txt', '/sub/page.txt', ''],
  ['/config%2einc', '/config.inc', ''],
  ['/with%20space.txt', '/with space.txt', ''],
  ['/%C3%BC/', '/ü/', ''],
  ['/a?x=%41', '/a', 'x=A'],
  ['/a?x=%2f&y=%2F', '/a', 'x=%2F&y=%2F'],
  ['/a?x=%7e%20', '/a', 'x=~%20'],
  ['/a?', '/a', ''],
  ['/a#frag', '/a', ''],
  ['/a/../b?c/../d', '/b', 'c/../d'],
  ['http://example.org/x/../y?z=1', '/y', 'z=1'],
];

for (const [target, path, query] of VECTORS) {
  test(`normaliseTarget(${JSON.stringify(target)})`, (t) => {
    t.like(normaliseTarget(target), { path, query });
  });
}

/** Spec 1.1: refused with 400 before any stage runs. */
const REFUSED = [
  '/%00',
  '/pic.jpg%00.txt',
  '/%0a',
  '/%0D%0A',
  '/%1f',
  '/%7f',
  '/a\x01',
  '/%ff',
  '/%c0%af',
  '/%c3',
  '/%ed%a0%80',
  '/a?x=%00',
  '/a?x=%0a',
  '/a?x=%7f',
  '/a?x=%ff',
  '/a?x=%c0',
  'relative/path',
  '*',
];

for (const target of REFUSED) {
  test(`normaliseTarget refuses ${JSON.stringify(target)} with 400`, (t) => {
    const err = t.throws(() => normaliseTarget(target), { instanceOf: BadRequestTarget });
    t.is(err?.status, 400);
  });
}

test('the query keeps bytes lighttpd lets through', (t) => {
  t.is(normaliseTarget('/a?x=%c3').query, 'x=%C3');
  t.is(normaliseTarget('/a?x=%80').query, 'x=%80');
});

test('simplifyPath keeps a path that needs nothing as it is', (t) => {
  const path = '/a/b.c/d';
  t.is(simplifyPath(path), path);
  t.is(simplifyPath('/a/.hidden'), '/a/.hidden');
  t.is(simplifyPath('/a/..b'), '/a/..b');
});
