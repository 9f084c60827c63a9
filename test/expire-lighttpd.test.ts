/**
 * mod_expire under lighttpd 1.4.69 and koa-lighty on the same config: which answers get
 * `Cache-Control: max-age` (HTTP/1.1) or `Expires` (HTTP/1.0), and with what time, for
 * static files, PHP output, errors, 206 and 304, URL rules against Content-Type rules, rules
 * in conditional blocks, Pi-hole's global rule, and the expressions lighttpd refuses.
 *
 * Times are compared against each response's own Date, so the two servers agree whatever
 * second each answered in. "modification" rules count from files whose mtime is set to fixed
 * dates: 2020 (long past: max-age=0) and 2100 (so Date + max-age is an exact instant).
 */
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { ConfigError } from '../src/config/errors.js';
import { loadConfig } from '../src/server/app.js';
import { lighttpdAccepts } from './config-parser-oracle.js';
import { type RawResponse, rawExchange, rawRequest } from './helpers/http.js';
import { type BothServers, startBoth } from './helpers/same-conf.js';

const PAST = Date.UTC(2020, 0, 2, 3, 4, 5) / 1000;
const FUTURE = Date.UTC(2100, 0, 1) / 1000;

const root = mkdtempSync(join(tmpdir(), 'koa-lighty-expire-'));
function file(path: string, content: string, mtime?: number): void {
  const full = join(root, path);
  mkdirSync(join(full, '..'), { recursive: true });
  writeFileSync(full, content);
  if (mtime !== undefined) utimesSync(full, mtime, mtime);
}
file('static/page.txt', 'static page\n');
file('static/pic.png', 'not really a png\n');
file('static/index.html', '<p>index</p>\n');
file('static/hello.php', '<?php echo "hello from ", $_SERVER["REQUEST_METHOD"];');
file('static/cc.php', '<?php header("Cache-Control: private"); echo "own cache-control";');
file('static/expires.php', '<?php header("Expires: Thu, 01 Jan 2099 00:00:00 GMT"); echo "own expires";');
file('static/sub/x.txt', 'x\n');
file('pic.png', 'top-level png\n');
file('style.css', 'body {}\n');
file('page.txt', 'no rule\n');
file('old/page.txt', 'old\n', PAST);
file('future/page.txt', 'future\n', FUTURE);
file('future/script.php', '<?php echo "script ", $_SERVER["PATH_INFO"] ?? "";', FUTURE);
for (const dir of ['js', 'js2', 'js3']) {
  file(`${dir}/js.php`, '<?php header("Content-Type: application/javascript"); echo "var x;";');
  file(`${dir}/untyped.php`, '<?php ini_set("default_mimetype", ""); echo "no type";');
  file(`${dir}/empty.php`, '<?php http_response_code(204);');
}
file('admin/index.php', '<?php echo "admin";');
file('admin/style.css', 'admin {}\n');
for (let i = 1; i <= 7; i++) file(`q${i}.txt`, `quirk ${i}\n`);

const php = (sockdir: string) => `
fastcgi.server = (".php" => ((
  "bin-path" => "/usr/bin/php-cgi",
  "socket" => "${sockdir}/php.socket",
  "max-procs" => 1,
  "bin-environment" => ("PHP_FCGI_CHILDREN" => "2"),
)))
`;

const conf = (sockdir: string) => `
server.document-root = "${root}"
server.modules = ("mod_expire", "mod_fastcgi")
index-file.names = ("index.html")
mimetype.assign = (".txt" => "text/plain", ".png" => "image/png", ".css" => "text/css", ".html" => "text/html")
${php(sockdir)}
expire.url = (
  "/static/" => "access plus 1 hours",
  "/old/" => "modification plus 2 days 3 minutes",
  "/future/" => "modification plus 2 days 3 minutes",
  "/q1." => "access plus 139 years",
  "/q2." => "access plus 4294967297 seconds",
  "/q3." => "now  hours",
  "/q4." => "access plus 1 hours ",
  "/q5." => "access plus -5 seconds 1 minute",
  "/q6." => "access 1 month 1 year",
  "/q7." => "now plus 1 week 2 day 3 hour 4 minute 5 second",
)
expire.mimetypes = (
  "image/" => "access plus 2 weeks",
  "text/css*" => "now plus 30 minutes",
  "application/javascript" => "access plus 5 minutes",
)
$HTTP["url"] =^ "/admin/" { expire.url = ( "" => "access plus 0 seconds" ) }
$HTTP["url"] =^ "/js/" {
  expire.mimetypes = (
    "application/javascript" => "access plus 5 minutes",
    "text/java" => "access plus 11 seconds",
    "" => "access plus 7 seconds",
  )
}
$HTTP["url"] =^ "/js3/" {
  expire.mimetypes = ( "application/javascript" => "access plus 5 minutes", "text/*" => "access plus 9 seconds" )
}
`;

/** Pi-hole v5's lighttpd.conf, the parts koa-lighty runs: nothing of the web interface is cached. */
const piholeConf = (sockdir: string) => `
server.document-root = "${root}"
server.modules = ("mod_access", "mod_expire", "mod_fastcgi")
index-file.names = ("index.php", "index.html", "index.lighttpd.html")
url.access-deny = ("~", ".inc", ".md", ".yml", ".ini")
static-file.exclude-extensions = (".php", ".pl", ".fcgi")
mimetype.assign = (".css" => "text/css", ".png" => "image/png", ".html" => "text/html", ".txt" => "text/plain")
${php(sockdir)}
$HTTP["url"] =~ "^/admin/\\.(.*)" { url.access-deny = ("") }
expire.url = ( "" => "access plus 0 seconds" )
`;

let servers: BothServers | undefined;
let pihole: BothServers | undefined;
test.before(async () => {
  [servers, pihole] = await Promise.all([startBoth(conf), startBoth(piholeConf)]);
});
test.after.always(async () => {
  await Promise.allSettled([servers?.close(), pihole?.close()]);
  rmSync(root, { recursive: true, force: true });
});

/** More than this many seconds is a fixed instant (a 2100 mtime, PHP's 2099), not a life span. */
const FAR = 10 * 365 * 86400;

/**
 * What a cache makes of an answer: its status, and Cache-Control and Expires as seconds after
 * the answer's Date (or, for the far future, as the instant they name).
 */
function caching(response: RawResponse) {
  const date = Date.parse(response.headers['date'] ?? '') / 1000;
  const cacheControl = response.headers['cache-control']?.replace(/max-age=(\d+)/, (whole, n: string) =>
    Number(n) > FAR ? `max-age until ${new Date((date + Number(n)) * 1000).toISOString()}` : whole,
  );
  const expires = response.headers['expires'];
  const delta = expires === undefined ? undefined : Date.parse(expires) / 1000 - date;
  return {
    status: response.status,
    'cache-control': cacheControl,
    expires: delta === undefined || Math.abs(delta) > FAR ? expires : `Date + ${delta}`,
  };
}

type Caching = ReturnType<typeof caching>;

interface Case {
  path: string;
  method?: string;
  http10?: boolean;
  headers?: Record<string, string>;
  /** What lighttpd 1.4.69 answered (seen). */
  expect: Partial<Caching>;
}

function ask(port: number, c: Case): Promise<RawResponse> {
  if (!c.http10) return rawRequest(port, c.path, c.headers, c.method);
  const lines = [`${c.method ?? 'GET'} ${c.path} HTTP/1.0`, 'Host: 127.0.0.1'];
  for (const [name, value] of Object.entries(c.headers ?? {})) lines.push(`${name}: ${value}`);
  return rawExchange(port, Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'));
}

function compare(which: () => BothServers | undefined, title: string, c: Case): void {
  test(title, async (t) => {
    const both = which()!;
    const [lighttpd, koa] = await Promise.all([ask(both.lighttpd.port, c), ask(both.koaPort, c)]);
    t.deepEqual(caching(koa), caching(lighttpd));
    t.like(caching(koa), c.expect);
  });
}

const none = { 'cache-control': undefined, expires: undefined };
const cases: Record<string, Case> = {
  'a static file under a URL prefix': {
    path: '/static/page.txt',
    expect: { status: 200, 'cache-control': 'max-age=3600', expires: undefined },
  },
  HEAD: {
    path: '/static/page.txt',
    method: 'HEAD',
    expect: { status: 200, 'cache-control': 'max-age=3600' },
  },
  'the index file of a directory': {
    path: '/static/',
    expect: { status: 200, 'cache-control': 'max-age=3600' },
  },
  '206 for a Range': {
    path: '/static/page.txt',
    headers: { Range: 'bytes=0-3' },
    expect: { status: 206, 'cache-control': 'max-age=3600' },
  },
  '304 gets nothing': {
    path: '/static/page.txt',
    headers: { 'If-Modified-Since': 'Fri, 01 Jan 2999 00:00:00 GMT' },
    expect: { status: 304, ...none },
  },
  '404 gets nothing': { path: '/static/missing.txt', expect: { status: 404, ...none } },
  '301 for a directory gets nothing': { path: '/static/sub', expect: { status: 301, ...none } },
  'the URL rule wins over the image/ rule': {
    path: '/static/pic.png',
    expect: { 'cache-control': 'max-age=3600' },
  },
  'image/ by Content-Type prefix': { path: '/pic.png', expect: { 'cache-control': 'max-age=1209600' } },
  '"text/css*" is the prefix text/css': { path: '/style.css', expect: { 'cache-control': 'max-age=1800' } },
  'no rule, nothing': { path: '/page.txt', expect: { status: 200, ...none } },
  'PHP output under a URL prefix': {
    path: '/static/hello.php',
    expect: { status: 200, 'cache-control': 'max-age=3600' },
  },
  'QUERY to PHP': {
    path: '/static/hello.php',
    method: 'QUERY',
    headers: { 'Content-Length': '0' },
    expect: { status: 200, 'cache-control': 'max-age=3600' },
  },
  'POST to PHP gets nothing': {
    path: '/static/hello.php',
    method: 'POST',
    headers: { 'Content-Length': '0' },
    expect: { status: 200, ...none },
  },
  "PHP's own Cache-Control is kept": {
    path: '/static/cc.php',
    expect: { 'cache-control': 'private', expires: undefined },
  },
  "PHP's own Cache-Control, HTTP/1.0: no Expires added": {
    path: '/static/cc.php',
    http10: true,
    expect: { 'cache-control': 'private', expires: undefined },
  },
  "PHP's own Expires does not stop max-age": {
    path: '/static/expires.php',
    expect: { 'cache-control': 'max-age=3600', expires: 'Thu, 01 Jan 2099 00:00:00 GMT' },
  },
  "HTTP/1.0: PHP's own Expires is replaced": {
    path: '/static/expires.php',
    http10: true,
    expect: { 'cache-control': undefined, expires: 'Date + 3600' },
  },
  'HTTP/1.0: Expires and no Cache-Control': {
    path: '/static/page.txt',
    http10: true,
    expect: { status: 200, 'cache-control': undefined, expires: 'Date + 3600' },
  },
  'HTTP/1.0 by Content-Type': { path: '/pic.png', http10: true, expect: { expires: 'Date + 1209600' } },
  'modification, long past: max-age=0': { path: '/old/page.txt', expect: { 'cache-control': 'max-age=0' } },
  'modification, long past, HTTP/1.0: Expires is Date': {
    path: '/old/page.txt',
    http10: true,
    expect: { expires: 'Date + 0' },
  },
  'modification counts from the mtime': {
    path: '/future/page.txt',
    expect: { 'cache-control': 'max-age until 2100-01-03T00:03:00.000Z' },
  },
  'modification, HTTP/1.0': {
    path: '/future/page.txt',
    http10: true,
    expect: { expires: 'Sun, 03 Jan 2100 00:03:00 GMT' },
  },
  "modification for PHP output: the script's mtime": {
    path: '/future/script.php/extra',
    expect: { status: 200, 'cache-control': 'max-age until 2100-01-03T00:03:00.000Z' },
  },
  '139 years wrap round as a C int': { path: '/q1.txt', expect: { 'cache-control': 'max-age=28488704' } },
  '4294967297 seconds are 1 second': { path: '/q2.txt', expect: { 'cache-control': 'max-age=1' } },
  'a double space reads as 0': { path: '/q3.txt', expect: { 'cache-control': 'max-age=0' } },
  'a trailing space is allowed': { path: '/q4.txt', expect: { 'cache-control': 'max-age=3600' } },
  'negative numbers count': { path: '/q5.txt', expect: { 'cache-control': 'max-age=55' } },
  'no plus, a month of 30 days, a year of 360': {
    path: '/q6.txt',
    expect: { 'cache-control': 'max-age=33696000' },
  },
  'singular units': { path: '/q7.txt', expect: { 'cache-control': 'max-age=788645' } },
  'in a block: "" => access plus 0 seconds': {
    path: '/admin/style.css',
    expect: { 'cache-control': 'max-age=0' },
  },
  'in a block, PHP': { path: '/admin/index.php', expect: { status: 200, 'cache-control': 'max-age=0' } },
  'application/javascript becomes text/javascript, swapped with the last rule: "" wins': {
    path: '/js/js.php',
    expect: { 'cache-control': 'max-age=7' },
  },
  'no Content-Type: the "" rule': { path: '/js/untyped.php', expect: { 'cache-control': 'max-age=7' } },
  '204 from PHP': { path: '/js/empty.php', expect: { status: 204, 'cache-control': 'max-age=7' } },
  'application/javascript matches text/javascript': {
    path: '/js2/js.php',
    expect: { 'cache-control': 'max-age=300' },
  },
  'no Content-Type and no "" rule: nothing': { path: '/js2/untyped.php', expect: { ...none } },
  'a text/ rule keeps application/javascript as it is': {
    path: '/js3/js.php',
    expect: { 'cache-control': 'max-age=9' },
  },
};
for (const [title, c] of Object.entries(cases))
  compare(() => servers, `${title}: ${c.method ?? 'GET'} ${c.path}`, c);

const piholeCases: Record<string, Case> = {
  'the admin page': { path: '/admin/', expect: { status: 200, 'cache-control': 'max-age=0' } },
  'a stylesheet': { path: '/admin/style.css', expect: { status: 200, 'cache-control': 'max-age=0' } },
  'HTTP/1.0': { path: '/admin/index.php', http10: true, expect: { status: 200, expires: 'Date + 0' } },
  'a denied dot-file gets nothing': { path: '/admin/.git/config', expect: { status: 403, ...none } },
  'a missing page gets nothing': { path: '/admin/nothing.php', expect: { status: 404, ...none } },
};
for (const [title, c] of Object.entries(piholeCases))
  compare(() => pihole, `Pi-hole: ${title}: ${c.path}`, c);

const refused = [
  'access plus 1 hourz',
  'access',
  'access plus',
  '',
  'later plus 1 hours',
  'Access plus 1 hours',
  'access plus 1 hours 2',
  'access plus 5 s',
  'access plus one hour',
  'modification  plus 1 hours',
];
const accepted = ['now 1 second', 'access plus  hours', 'modification plus 2 days 3 minutes'];
for (const [key, expression] of [
  ...refused.map((e) => ['expire.url', e] as const),
  ...accepted.map((e) => ['expire.url', e] as const),
  ['expire.mimetypes', 'access plus 1 fortnight'] as const,
]) {
  test(`${key} "${expression}": started or refused as by lighttpd -tt, at the key's line`, (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'koa-lighty-expire-conf-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'lighttpd.conf');
    writeFileSync(
      file,
      `server.document-root = "${root}"\nserver.modules = ("mod_expire")\n` +
        `$HTTP["url"] =^ "/never/" {\n  ${key} = ( "/" => "${expression}" )\n}\n`,
    );
    const lighttpdStarts = lighttpdAccepts(file);
    t.is(lighttpdStarts, accepted.includes(expression));
    if (lighttpdStarts) {
      t.notThrows(() => loadConfig(file));
      return;
    }
    const error = t.throws(() => loadConfig(file), { instanceOf: ConfigError });
    t.is(error?.file, file);
    t.is(error?.line, 4);
    t.true(error?.message.includes(key));
  });
}
