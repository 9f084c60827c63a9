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

/**
 * lighttpd's r->target after url-normalize, what url.redirect matches (seen on 1.4.69 with
 * `"^/seen(.*)$" => "=$1"`: the Location showed the subject after `/seen`).
 */
const ENCODED_TARGETS: Array<[target: string, encodedTarget: string]> = [
  ['/seen', '/seen'],
  ['/seen?', '/seen?'],
  ['/seen/a%20b/../c%3f?x=%41', '/seen/c%3F?x=A'],
  ['/seen/%5c', '/seen/%5C'],
  ['/seen/\\', '/seen/%5C'],
  ['/seen/%3F%23', '/seen/%3F%23'],
  ['/seen/some+test%3Axxx%20with%20space', '/seen/some+test%3Axxx%20with%20space'],
  ['/seen/%c3%a4', '/seen/%C3%A4'],
  ['/seen/a%2fb', '/seen/a/b'],
  ['/seen/a/./b/../c', '/seen/a/c'],
  ['/seen//a//b', '/seen/a/b'],
  ['/seen/a/..', '/seen/'],
  ['/seen/a/.', '/seen/a/'],
  ['/seen/%2e%2e/x', '/x'],
  ['/seen/..%2f..%2fx', '/x'],
  ['/seen/%41%7a%2D%5f%7e%2e', '/seen/Az-_~.'],
  ['/seen/[x]', '/seen/%5Bx%5D'],
  ['/seen/{|}"<>^`', '/seen/%7B%7C%7D%22%3C%3E%5E%60'],
  ['/seen/%', '/seen/%25'],
  ['/seen/%zz%2', '/seen/%25zz%252'],
  ['/seen?a={|}"\\%&b=%2f%2F%20+%3d&c=%7E', '/seen?a=%7B%7C%7D%22%5C%25&b=%2F%2F%20+%3D&c=~'],
  ['/seen?x=/../a//b', '/seen?x=/../a//b'],
  ['/seen/a?b?c', '/seen/a?b?c'],
  ['/seen/x?y#frag', '/seen/x?y'],
  ["/seen/!$&'()*+,;=:@", "/seen/!$&'()*+,;=:@"],
  ['/seen/%e2%82%ac', '/seen/%E2%82%AC'],
  ['/seen?q=%c3', '/seen?q=%C3'],
  ['/seen/\u00e4', '/seen/%C3%A4'],
  ['http://example.org/seen/x/../y?z=%41', '/seen/y?z=A'],
];

for (const [target, encodedTarget] of ENCODED_TARGETS) {
  test(`normaliseTarget(${JSON.stringify(target)}).encodedTarget`, (t) => {
    const normalised = normaliseTarget(target);
    t.is(normalised.encodedTarget, encodedTarget);
    // The query part is the query every other stage sees (QUERY_STRING).
    t.is(normalised.hasQuery ? `?${normalised.query}` : '', /\?.*$/.exec(encodedTarget)?.[0] ?? '');
  });
}

test('the decoded path is unchanged by the encoded form: %5C is a backslash there', (t) => {
  t.like(normaliseTarget('/rewrite/all/%5cevil.example'), {
    path: '/rewrite/all/\\evil.example',
    encodedTarget: '/rewrite/all/%5Cevil.example',
  });
});
