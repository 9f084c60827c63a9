/**
 * url.redirect under Debian's lighttpd 1.4.69 and under `koa-lighty -f`, same conf: the rules
 * match the normalised but still encoded request-target, so `$n` keeps its encoding and a
 * `%5C` never turns into the `\` a browser follows to another host. Each case asserts the
 * Location users get, and that lighttpd gives the same one; the deliberate differences (a
 * protocol-relative result, a raw space) are asserted as such.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { type RawResponse, rawRequest } from './helpers/http.js';
import { type RunningKoaLighty, startKoaLighty } from './helpers/koa-lighty.js';
import { type RunningLighttpd, startLighttpd } from './helpers/lighttpd.js';

const docroot = mkdtempSync(join(tmpdir(), 'koa-lighty-redirect-enc-'));
const conf = `server.modules = ("mod_redirect")
server.document-root = "${docroot}"
url.redirect = (
  "^/rewrite/all(/.*)$" => "$1",
  "^/prefix(.*)$" => "/$1",
  "^/go\\?to=(.*)$" => "$1",
  "^/cdn/(.*)$" => "//cdn.example/$1",
  "^/ä/(.*)$" => "/umlaut/$1",
  "^/pct%c3%a4/(.*)$" => "/pct/$1",
  "^/esc/(.*)$" => "/%%41/$$/%a/$1",
  "^/lit/(.*)$" => "/ä/$1",
  "^/space/(.*)$" => "/a b/$1",
  "^/parts/([^?]*)" => "/p?path=\${url.path}&q=\${url.query}&esc=\${esc:1}&nde=\${escnde:1}&qsa=1\${qsa}",
  "^/blank/" => "",
  "^/blank/x" => "/never",
  "^/scheme/" => "\${url.scheme}://example.org/h",
)
$HTTP["url"] =~ "^/cond/([a-z]+)/" {
  url.redirect = ( "^/cond/(.*)$" => "/c/%1/$1?all=%0&esc=\${esc:0}" )
}
$HTTP["url"] =^ "/code/" {
  url.redirect = ( "^/code/(.*)$" => "/c/%0/$1" )
  url.redirect-code = 307
}
`;

let lighttpd: RunningLighttpd | undefined;
let koa: RunningKoaLighty | undefined;

test.before(async () => {
  [lighttpd, koa] = await Promise.all([
    startLighttpd(conf),
    startKoaLighty({ conf: `${conf}server.port = PORT\nserver.bind = "127.0.0.1"\n` }),
  ]);
});

test.after.always(async () => {
  await Promise.allSettled([koa?.stop(), lighttpd?.stop()]);
  rmSync(docroot, { recursive: true, force: true });
});

function both(path: string): Promise<[RawResponse, RawResponse]> {
  return Promise.all([rawRequest(lighttpd!.port, path), rawRequest(koa!.port, path)]);
}

/** [request-target, the Location both servers answer with (301)]. */
const SAME: Array<[string, string]> = [
  ['/rewrite/all/%5cevil.example', '/%5Cevil.example'],
  ['/rewrite/all/%5Cevil.example', '/%5Cevil.example'],
  ['/rewrite/all/\\evil.example', '/%5Cevil.example'],
  ['/rewrite/all/%3F', '/%3F'],
  ['/rewrite/all/%23x', '/%23x'],
  ['/rewrite/all/a%20b', '/a%20b'],
  ['/rewrite/all/some+test%3Axxx%20with%20space', '/some+test%3Axxx%20with%20space'],
  ['/rewrite/all/%C3%A4', '/%C3%A4'],
  ['/rewrite/all/%c3%a4', '/%C3%A4'],
  ['/rewrite/all/a%2Fb', '/a/b'],
  ['/rewrite/all/x/../b', '/b'],
  ['/rewrite/all/.', '/'],
  // Path simplification collapses `//` before the rule sees it: no protocol-relative Location.
  ['/rewrite/all//evil.example', '/evil.example'],
  ['/rewrite/all/%2F%2Fevil.example', '/evil.example'],
  ['/rewrite/all/%41%7a%7E', '/Az~'],
  ['/rewrite/all/x?q=%41%2f%20+&b=%7e', '/x?q=A%2F%20+&b=~'],
  ['/rewrite/all/x?', '/x?'],
  ['/rewrite/all/{|}', '/%7B%7C%7D'],
  ['/rewrite/all/%zz', '/%25zz'],
  ['/go?to=%2F%2Fevil.example', '%2F%2Fevil.example'],
  ['/cdn/x', '//cdn.example/x'],
  // A rule's `ä` and `%c3%a4` match the encoded target.
  ['/%C3%A4/z', '/umlaut/z'],
  ['/%c3%a4/z', '/umlaut/z'],
  ['/pct%C3%A4/z', '/pct/z'],
  ['/esc/a%20b', '/%41/$/%a/a%20b'],
  ['/lit/z', '/%C3%A4/z'],
  // ${url.path} (encoded, no query), ${url.query}, ${esc:n} (every % encoded again),
  // ${escnde:n} (existing %XX kept), ${qsa} (the query appended with & after a ?)
  ['/parts/a%20b/c?x=%41&y', '/p?path=/parts/a%20b/c&q=x=A&y&esc=a%2520b%2Fc&nde=a%20b%2Fc&qsa=1&x=A&y'],
  ['/parts/z', '/p?path=/parts/z&q=&esc=z&nde=z&qsa=1'],
  ['/scheme/', 'http://example.org/h'],
  // %1 and %0: the captures of the block's $HTTP["url"] =~ on the decoded path
  ['/cond/abc/d%20e?f', '/c/abc/abc/d%20e?f?all=/cond/abc/&esc=%2Fcond%2Fabc%2Fd%2520e%3Ff'],
];

for (const [path, location] of SAME) {
  test(`GET ${path} → Location ${location}, as lighttpd`, async (t) => {
    const [expected, actual] = await both(path);
    t.is(expected.status, 301);
    t.is(expected.headers.location, location);
    t.is(actual.status, 301);
    t.is(actual.headers.location, location);
  });
}

test('a rule with an empty target stops the list: no redirect, as lighttpd', async (t) => {
  const [expected, actual] = await both('/blank/x');
  t.is(expected.status, 404);
  t.is(actual.status, 404);
  t.false('location' in actual.headers);
});

test('url.redirect-code of the block, and %0 of an =^ condition (a regex again once it is used)', async (t) => {
  const [expected, actual] = await both('/code/x?y');
  t.is(expected.status, 307);
  t.is(expected.headers.location, '/c//code//x?y');
  t.is(actual.status, 307);
  t.is(actual.headers.location, '/c//code//x?y');
});

for (const path of ['/rewrite/all/%00', '/rewrite/all/%0a', '/rewrite/all/%7f', '/rewrite/all/%ff']) {
  test(`GET ${path} is 400 without a Location, as lighttpd`, async (t) => {
    const [expected, actual] = await both(path);
    t.is(expected.status, 400);
    t.is(actual.status, 400);
    t.false('location' in actual.headers);
  });
}

/** Deliberate differences: [request-target, lighttpd's Location, koa-lighty's]. */
const SAFER: Array<[string, string, string]> = [
  // "/$1" with a capture that starts with `/`: lighttpd sends browsers to the host evil.example.
  ['/prefix/evil.example', '//evil.example', '/evil.example'],
  ['/prefix//evil.example', '//evil.example', '/evil.example'],
  ['/go?to=//evil.example', '//evil.example', '/evil.example'],
  // A space in the rule's own text: lighttpd sends it raw.
  ['/space/z', '/a b/z', '/a%20b/z'],
];

for (const [path, theirs, ours] of SAFER) {
  test(`GET ${path} → Location ${ours} (lighttpd: ${theirs})`, async (t) => {
    const [expected, actual] = await both(path);
    t.is(expected.status, 301);
    t.is(expected.headers.location, theirs);
    t.is(actual.status, 301);
    t.is(actual.headers.location, ours);
  });
}
