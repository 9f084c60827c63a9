/**
 * FastCGI authorizers (`"mode" => "authorizer"` in fastcgi.server) under lighttpd 1.4.69 and
 * koa-lighty on the same config: a real php-cgi authorizer (a script php-cgi runs before the
 * requested file, via auto_prepend_file, and that always exits) allows, refuses, asks for a
 * login or redirects by the query; what the client sees and what the responder PHP then gets
 * in $_SERVER must be the same. Authorizers that are down or speak garbage never let the
 * request through.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { ConfigError } from '../src/config/errors.js';
import { loadConfig } from '../src/server/app.js';
import { type RawResponse, rawExchange } from './helpers/http.js';
import { bothForFile, seen } from './helpers/same-conf.js';

const dir = mkdtempSync(join(tmpdir(), 'koa-lighty-authorizer-'));
const www = join(dir, 'www');
const alt = join(dir, 'alt');
const authScript = join(dir, 'auth', 'auth.php');
for (const d of ['www/private/no-index', 'www/down', 'www/junk', 'www/slow', 'alt/moved', 'auth'])
  mkdirSync(join(dir, d), { recursive: true });

writeFileSync(
  authScript,
  `<?php
$a = $_GET['a'] ?? '';
if ($a === 'deny') {
  http_response_code(403);
  header('X-Why: denied');
  header('Content-Type: text/plain');
  echo "no entry\\n";
  exit;
}
if ($a === 'login') {
  http_response_code(401);
  header('WWW-Authenticate: Basic realm="private"');
  echo "login please\\n";
  exit;
}
if ($a === 'go') {
  header('Location: /login.html');
  echo "moved";
  exit;
}
if ($a === 'sleep') {
  sleep(4);
  exit;
}
if ($a === 'env') {
  http_response_code(299);
  header('Content-Type: application/json');
  $keys = ['FCGI_ROLE', 'SCRIPT_FILENAME', 'DOCUMENT_ROOT', 'SCRIPT_NAME', 'CONTENT_LENGTH',
    'PATH_INFO', 'REQUEST_URI', 'QUERY_STRING', 'REQUEST_METHOD', 'HTTP_X_TOKEN'];
  echo json_encode(array_map(fn ($k) => $_SERVER[$k] ?? null, array_combine($keys, $keys)));
  exit;
}
if (($_SERVER['HTTP_X_TOKEN'] ?? '') === 'bad') { http_response_code(403); exit; }
header('Variable-Auth-User: alice');
header('Variable-Seen-Token: ' . ($_SERVER['HTTP_X_TOKEN'] ?? '-'));
header('X-Dropped: from the authorizer');
header('Set-Cookie: authorizer=1');
echo "authorizer body, never sent";
exit;
`,
);

const PAGE_PHP = `<?php
header('Content-Type: application/json');
$keys = ['AUTH_USER', 'SEEN_TOKEN', 'SCRIPT_FILENAME', 'DOCUMENT_ROOT', 'SCRIPT_NAME', 'PATH_INFO',
  'CONTENT_LENGTH', 'FCGI_ROLE'];
$seen = array_map(fn ($k) => $_SERVER[$k] ?? null, array_combine($keys, $keys));
$seen['body'] = file_get_contents('php://input');
echo json_encode($seen);
`;
writeFileSync(join(www, 'private', 'page.php'), PAGE_PHP);
writeFileSync(join(www, 'private', 'file.txt'), 'secret file\n');
writeFileSync(join(www, 'private', 'index.php'), PAGE_PHP);
writeFileSync(join(www, 'down', 'file.txt'), 'behind a dead authorizer\n');
writeFileSync(join(www, 'down', 'page.php'), PAGE_PHP);
writeFileSync(join(www, 'junk', 'file.txt'), 'behind a broken authorizer\n');
writeFileSync(join(www, 'slow', 'file.txt'), 'behind a slow authorizer\n');
writeFileSync(join(alt, 'moved', 'file.txt'), 'from the authorizer docroot\n');
writeFileSync(join(alt, 'moved', 'page.php'), PAGE_PHP);

// An "authorizer" that answers every request with bytes that are not FastCGI.
const junkSocket = join(dir, 'junk.socket');
const junk = createServer((socket) => {
  socket.once('data', () => socket.end('HTTP/1.0 200 OK\r\n\r\nnot FastCGI at all, just garbage bytes'));
  socket.on('error', () => {});
}).listen(junkSocket);
test.after.always(() => junk.close());

const conf = (sockdir: string) => `
server.document-root = "${www}"
server.modules = ("mod_fastcgi")
index-file.names = ("index.php")
fastcgi.server = (
  "/private/" => ((
    "mode" => "authorizer",
    "bin-path" => "/usr/bin/php-cgi -d auto_prepend_file=${authScript}",
    "socket" => "${sockdir}/auth.socket",
    "max-procs" => 1,
    "bin-environment" => ("PHP_FCGI_CHILDREN" => "1"),
  )),
  "/moved/" => ((
    "mode" => "authorizer",
    "bin-path" => "/usr/bin/php-cgi -d auto_prepend_file=${authScript}",
    "socket" => "${sockdir}/auth.socket",
    "max-procs" => 1,
    "bin-environment" => ("PHP_FCGI_CHILDREN" => "1"),
    "check-local" => "disable",
    "docroot" => "${alt}",
  )),
  "/slow/" => ((
    "mode" => "authorizer",
    "bin-path" => "/usr/bin/php-cgi -d auto_prepend_file=${authScript}",
    "socket" => "${sockdir}/slow.socket",
    "max-procs" => 1,
    "bin-environment" => ("PHP_FCGI_CHILDREN" => "1"),
    "read-timeout" => 1,
  )),
  "/down/" => (( "mode" => "authorizer", "socket" => "${dir}/nobody-listens.socket" )),
  "/junk/" => (( "mode" => "authorizer", "socket" => "${junkSocket}" )),
  ".php" => ((
    "bin-path" => "/usr/bin/php-cgi",
    "socket" => "${sockdir}/php.socket",
    "max-procs" => 1,
    "bin-environment" => ("PHP_FCGI_CHILDREN" => "1"),
  )),
)
`;

const both = bothForFile(conf, () => rmSync(dir, { recursive: true, force: true }));

/** What the user sees, with the headers an authorizer may set. */
const view = (response: RawResponse) =>
  seen(response, ['x-why', 'www-authenticate', 'x-dropped', 'set-cookie', 'content-length']);

function noSource(t: { false(actual: boolean, message?: string): void }, response: RawResponse) {
  const body = response.body.toString('latin1');
  t.false(body.includes('<?php'), 'no script source');
  t.false(body.includes('authorizer body'), "not the approving authorizer's body");
}

// A directory: its index file is what the authorizer (and then PHP) gets; without one, the
// directory itself, which php-cgi answers with 404.
const PATHS = [
  '/private/page.php',
  '/private/file.txt',
  '/private/page.php/more/info',
  '/private/',
  '/private/no-index/',
];
for (const path of PATHS) {
  for (const query of ['', '?a=deny', '?a=login', '?a=go']) {
    test(`GET ${path}${query}: as lighttpd`, async (t) => {
      const [lighttpd, koa] = await both().both(`${path}${query}`);
      t.deepEqual(view(koa), view(lighttpd));
      noSource(t, koa);
    });
  }
}

test('approved: the responder gets Variable-* as environment, the client none of the rest', async (t) => {
  const [lighttpd, koa] = await both().both('/private/page.php', { 'X-Token': 'good' });
  t.deepEqual(view(koa), view(lighttpd));
  t.is(koa.status, 200);
  const php = JSON.parse(koa.body.toString());
  t.is(php.AUTH_USER, 'alice');
  t.is(php.SEEN_TOKEN, 'good');
  t.is(php.FCGI_ROLE, 'RESPONDER');
  t.false('x-dropped' in koa.headers);
  t.false('set-cookie' in koa.headers);
});

test('a request header can make the authorizer refuse', async (t) => {
  const [lighttpd, koa] = await both().both('/private/file.txt', { 'X-Token': 'bad' });
  t.deepEqual(view(koa), view(lighttpd));
  t.is(koa.status, 403);
  noSource(t, koa);
});

test('what the authorizer gets: role AUTHORIZER, no body length, no SCRIPT_NAME split', async (t) => {
  for (const path of ['/private/page.php/more?a=env', '/private/file.txt?a=env', '/moved/page.php?a=env']) {
    const [lighttpd, koa] = await both().both(path, { 'X-Token': 'abc' });
    t.is(koa.status, lighttpd.status, path);
    t.deepEqual(JSON.parse(koa.body.toString()), JSON.parse(lighttpd.body.toString()), path);
  }
  const [, koa] = await both().both('/private/file.txt?a=env');
  const params = JSON.parse(koa.body.toString());
  t.is(params.FCGI_ROLE, 'AUTHORIZER');
  t.is(params.CONTENT_LENGTH, null);
  t.is(params.SCRIPT_FILENAME, join(www, 'private', 'file.txt'));
});

test('a POST body goes to the responder after the authorizer, not to the authorizer', async (t) => {
  const post = (port: number) =>
    rawExchange(
      port,
      Buffer.from(
        'POST /private/page.php HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n' +
          'Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 7\r\n\r\nhello=1',
      ),
    );
  const [lighttpd, koa] = await Promise.all([post(both().lighttpd.port), post(both().koaPort)]);
  t.deepEqual(view(koa), view(lighttpd));
  t.is(JSON.parse(koa.body.toString()).body, 'hello=1');
});

test('HEAD refused: the status and headers, no body', async (t) => {
  const head = (port: number) =>
    rawExchange(
      port,
      Buffer.from('HEAD /private/file.txt?a=deny HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'),
    );
  const [lighttpd, koa] = await Promise.all([head(both().lighttpd.port), head(both().koaPort)]);
  t.is(koa.status, 403);
  t.deepEqual(seen(koa, ['x-why']), seen(lighttpd, ['x-why']));
});

test('a missing file under a check-local authorizer: 404 before any authorizer', async (t) => {
  const [lighttpd, koa] = await both().both('/private/missing.txt?a=deny');
  t.deepEqual(view(koa), view(lighttpd));
  t.is(koa.status, 404);
});

for (const path of ['/moved/file.txt', '/moved/page.php', '/moved/page.php?a=deny', '/moved/missing.txt']) {
  test(`GET ${path}: served from the authorizer's docroot, as lighttpd`, async (t) => {
    const [lighttpd, koa] = await both().both(path);
    t.deepEqual(view(koa), view(lighttpd));
    noSource(t, koa);
  });
}

test("the responder after an authorizer's docroot sees that root", async (t) => {
  const [, koa] = await both().both('/moved/page.php');
  const php = JSON.parse(koa.body.toString());
  t.is(php.SCRIPT_FILENAME, join(alt, 'moved', 'page.php'));
  t.is(php.DOCUMENT_ROOT, alt);
  t.is(php.AUTH_USER, 'alice');
});

for (const path of ['/down/file.txt', '/down/page.php']) {
  test(`GET ${path}: an authorizer nobody listens for is a 503, never the file`, async (t) => {
    const [lighttpd, koa] = await both().both(path);
    t.is(lighttpd.status, 503);
    t.deepEqual(view(koa), view(lighttpd));
  });
}

test('an authorizer answering garbage: an error page, never the file', async (t) => {
  const [lighttpd, koa] = await both().both('/junk/file.txt');
  // lighttpd says 500; koa-lighty says 502 Bad Gateway, as for a responder (README).
  t.is(lighttpd.status, 500);
  t.is(koa.status, 502);
  t.false(koa.body.toString().includes('behind a broken authorizer'));
  t.false(lighttpd.body.toString().includes('behind a broken authorizer'));
});

test('an authorizer that does not answer within read-timeout: 504, never the file', async (t) => {
  const [lighttpd, koa] = await both().both('/slow/file.txt?a=sleep');
  t.deepEqual(view(koa), view(lighttpd));
  t.is(koa.status, 504);
});

test('a mode neither responder nor authorizer is refused at start, at its line', (t) => {
  const file = join(dir, 'bad-mode.conf');
  writeFileSync(
    file,
    `server.document-root = "${www}"\nserver.modules = ("mod_fastcgi")\n` +
      `fastcgi.server = ("/x/" => (( "mode" => "authoriser", "socket" => "${dir}/x.socket" )))\n`,
  );
  const error = t.throws(() => loadConfig(file), { instanceOf: ConfigError });
  t.regex(error!.message, /bad-mode\.conf:3: .*mode "authoriser" is not known/);
});
