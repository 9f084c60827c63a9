/**
 * mod_setenv under lighttpd 1.4.69 and koa-lighty on the same config: response headers on
 * static files, PHP pages (PHP setting the same header itself, and one set-response-header
 * removes), X-Sendfile answers, PHP's own error status, 304s, koa-lighty's own 404/403/301
 * pages; request headers and environment as PHP sees them; `+=` and replacement in
 * $HTTP["url"] blocks, Pi-hole's block for /admin/. And where lighttpd leaves them out: a 403
 * of mod_access listed before mod_setenv, a 400 for a broken request, a 416 for a Range.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import type { RawResponse } from './helpers/http.js';
import { type BothServers, seen, startBoth } from './helpers/same-conf.js';

const root = mkdtempSync(join(tmpdir(), 'koa-lighty-setenv-'));
const www = join(root, 'www');
const files = join(root, 'files');
for (const dir of ['', 'sub', 'admin', 'admin/api', 'dir']) mkdirSync(join(www, dir), { recursive: true });
mkdirSync(files);
const envPhp = `<?php
header('X-Both: php-value');
header('X-Set: php-set');
header('X-Powered-By: PHP');
foreach (['HTTP_X_ADDED', 'HTTP_X_SETREQ', 'HTTP_X_GONE', 'HTTP_USER_AGENT', 'HTTP_COOKIE', 'HTTP_X_FRESH',
          'MYENV', 'MY_VAR', 'SETENV', 'EMPTY', 'SERVER_NAME', 'CAF__'] as $k)
  echo $k, '=', var_export($_SERVER[$k] ?? null, true), "\\n";
echo 'getenv(MYENV)=', var_export(getenv('MYENV'), true), "\\n";
`;
for (const dir of ['', 'sub', 'admin']) {
  writeFileSync(join(www, dir, 'env.php'), envPhp);
  writeFileSync(join(www, dir, 'a.txt'), `${dir} file\n`);
}
writeFileSync(join(www, 'admin/api/a.txt'), 'api\n');
writeFileSync(join(www, 'admin/index.php'), '<?php header("X-Frame-Options: SAMEORIGIN"); echo "admin";');
writeFileSync(join(www, 'secret.inc'), 'secret\n');
writeFileSync(join(www, 'dir/index.html'), 'dir\n');
writeFileSync(join(files, 'report.txt'), 'sent by X-Sendfile\n');
writeFileSync(
  join(www, 'send.php'),
  `<?php header('X-Both: php'); header('X-Sendfile: ${files}/report.txt');`,
);
writeFileSync(
  join(www, 'status.php'),
  '<?php http_response_code((int)$_GET["s"]); header("X-Both: php"); if ($_GET["s"] != 304) echo "php body";',
);

const PI_HOLE = `$HTTP["url"] =~ "^/admin/" {
  setenv.add-response-header = (
    "X-Pi-hole" => "The Pi-hole Web interface is working!",
    "X-Frame-Options" => "DENY",
    "X-XSS-Protection" => "0",
    "X-Content-Type-Options" => "nosniff",
    "Content-Security-Policy" => "default-src 'self' 'unsafe-inline';",
    "X-Permitted-Cross-Domain-Policies" => "none",
    "Referrer-Policy" => "same-origin"
  )
  $HTTP["url"] =^ "/admin/api/" {
    setenv.add-response-header = ( "X-Api" => "innermost" )
  }
}`;

const conf = (sockdir: string) => `
server.document-root = "${www}"
server.modules = ("mod_access", "mod_setenv", "mod_fastcgi")
index-file.names = ("index.php", "index.html")
mimetype.assign = (".txt" => "text/plain", ".html" => "text/html")
url.access-deny = (".inc")
fastcgi.server = (".php" => ((
  "bin-path" => "/usr/bin/php-cgi",
  "socket" => "${sockdir}/php.socket",
  "max-procs" => 1,
  "bin-environment" => ("PHP_FCGI_CHILDREN" => "1"),
  "allow-x-send-file" => "enable",
  "x-sendfile-docroot" => ("${files}"),
)))
setenv.add-request-header = ("X-Added" => "req-add", "User-Agent" => "ua-add", "Cookie" => "c2=2", "X-Empty" => "")
setenv.set-request-header = ("X-Setreq" => "req-set", "X-Gone" => "")
setenv.add-environment = ("MYENV" => "env-add", "my-var" => "dash", "EMPTY" => "", "café" => "crème")
setenv.set-environment = ("SETENV" => "env-set", "SERVER_NAME" => "from-setenv")
setenv.add-response-header = ("X-Both" => "setenv-add", "X-Multi" => "  one,
    two  ")
setenv.set-response-header = ("X-Set" => "setenv-set", "X-Powered-By" => "")
$HTTP["url"] =^ "/sub/" {
  setenv.add-response-header += ("X-Sub" => "sub")
  setenv.set-environment = ("SETENV" => "sub-set")
  setenv.add-request-header += ("X-Fresh" => "sub")
}
${PI_HOLE}
`;

/** Every header the config or PHP touches, and what frames the answer. */
const HEADERS = [
  'x-both',
  'x-set',
  'x-powered-by',
  'x-multi',
  'x-sub',
  'x-api',
  'x-pi-hole',
  'x-frame-options',
  'x-xss-protection',
  'x-content-type-options',
  'content-security-policy',
  'x-permitted-cross-domain-policies',
  'referrer-policy',
  'content-length',
  'etag',
];

/** The answer as a user sees it, plus those header lines in order (repeated lines stay two). */
function view(response: RawResponse) {
  const lines = response.headerLines
    .map((line) => line.replace(/^([^:]*):/, (_, name: string) => `${name.toLowerCase()}:`))
    .filter(
      (line) => HEADERS.includes(line.slice(0, line.indexOf(':'))) && !/^(etag|content-length):/.test(line),
    );
  return { ...seen(response, HEADERS), lines };
}

/** mod_setenv listed first: the 403 of mod_access and the redirect of mod_redirect get its headers. */
const setenvFirst = () => `
server.document-root = "${www}"
server.modules = ("mod_setenv", "mod_access", "mod_redirect")
url.access-deny = (".inc")
url.redirect = ("^/old$" => "/a.txt")
setenv.add-response-header = ("X-Both" => "setenv-add")
`;
/** The same, listed last: they answer before mod_setenv runs. */
const setenvLast = () =>
  setenvFirst().replace(
    '("mod_setenv", "mod_access", "mod_redirect")',
    '("mod_access", "mod_redirect", "mod_setenv")',
  );

let servers: BothServers | undefined;
let first: BothServers | undefined;
let last: BothServers | undefined;
test.before(async () => {
  [servers, first, last] = await Promise.all([
    startBoth(conf),
    startBoth(setenvFirst),
    startBoth(setenvLast),
  ]);
});
test.after.always(async () => {
  await Promise.allSettled([servers?.close(), first?.close(), last?.close()]);
  rmSync(root, { recursive: true, force: true });
});

const CLIENT = { 'User-Agent': 'client', Cookie: 'c1=1', 'X-Gone': 'from the client' };

const paths = [
  '/a.txt',
  '/env.php',
  '/missing',
  '/missing.php',
  '/dir',
  '/dir/',
  '/secret.inc',
  '/sub/a.txt',
  '/sub/env.php',
  '/admin/',
  '/admin/a.txt',
  '/admin/env.php',
  '/admin/missing',
  '/admin/api/a.txt',
  '/send.php',
  '/status.php?s=404',
  '/status.php?s=500',
  '/status.php?s=304',
  '/%00',
];
for (const path of paths) {
  test(`GET ${path}: status, setenv headers and body as lighttpd`, async (t) => {
    const [lighttpd, koa] = await servers!.both(path, CLIENT);
    t.deepEqual(view(koa), view(lighttpd));
  });
}

test('server.modules order decides whether a 403 of mod_access or a redirect gets the headers', async (t) => {
  // koa-lighty's redirect says Content-Type: application/octet-stream (lighttpd: none),
  // whatever mod_setenv does: not what this test is about.
  const headersOnly = (response: RawResponse) => ({ ...view(response), 'content-type': undefined });
  for (const path of ['/secret.inc', '/old', '/a.txt']) {
    const [lighttpdFirst, koaFirst] = await first!.both(path);
    t.deepEqual(headersOnly(koaFirst), headersOnly(lighttpdFirst), `mod_setenv first: ${path}`);
    const [lighttpdLast, koaLast] = await last!.both(path);
    t.deepEqual(headersOnly(koaLast), headersOnly(lighttpdLast), `mod_setenv last: ${path}`);
  }
  const [, denied] = await first!.both('/secret.inc');
  t.is(denied.headers['x-both'], 'setenv-add');
  const [, redirected] = await last!.both('/old');
  t.is(redirected.status, 301);
  t.false('x-both' in redirected.headers);
});

test('a 304 for a file keeps the setenv headers, as in lighttpd', async (t) => {
  for (const path of ['/a.txt', '/admin/a.txt', '/send.php']) {
    const [first] = await servers!.both(path);
    const etag = first.headers['etag']!;
    const [lighttpd, koa] = await servers!.both(path, { 'If-None-Match': etag });
    t.is(lighttpd.status, 304, path);
    t.deepEqual(view(koa), view(lighttpd), path);
  }
});

test('a 416 for a Range carries no setenv header, as in lighttpd', async (t) => {
  for (const path of ['/a.txt', '/env.php']) {
    const [lighttpd, koa] = await servers!.both(path, { Range: 'bytes=1000-' });
    t.is(lighttpd.status, 416, path);
    t.deepEqual(view(koa), view(lighttpd), path);
  }
});

test('what the checks above rest on', async (t) => {
  const [, php] = await servers!.both('/env.php', CLIENT);
  const body = php.body.toString('latin1');
  t.regex(body, /HTTP_X_ADDED='req-add'/);
  t.regex(body, /HTTP_USER_AGENT='client, ua-add'/);
  t.regex(body, /HTTP_COOKIE='c1=1; c2=2'/);
  t.regex(body, /HTTP_X_GONE=NULL/);
  t.regex(body, /MY_VAR='dash'/);
  t.regex(body, /SERVER_NAME='from-setenv'/);
  t.regex(body, /CAF__='cr\xc3\xa8me'/);
  t.deepEqual(
    php.headerLines.filter((line) => /^x-both:/i.test(line)),
    ['X-Both: php-value', 'X-Both: setenv-add'],
  );
  t.is(php.headers['x-set'], 'setenv-set');
  t.false('x-powered-by' in php.headers);
  t.is(php.headers['x-multi'], 'one,     two');
  const [, admin] = await servers!.both('/admin/');
  t.is(admin.headers['x-pi-hole'], 'The Pi-hole Web interface is working!');
  t.is(admin.headers['x-frame-options'], 'SAMEORIGIN, DENY');
  t.false('x-both' in admin.headers);
  const [, api] = await servers!.both('/admin/api/a.txt');
  t.is(api.headers['x-api'], 'innermost');
  t.false('x-pi-hole' in api.headers);
  const [, denied] = await servers!.both('/secret.inc');
  t.is(denied.status, 403);
  t.false('x-set' in denied.headers);
  t.deepEqual(
    servers!.koaLog.lines.filter((line) => line.includes('not supported')),
    [],
  );
});
