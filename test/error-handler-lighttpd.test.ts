/**
 * server.error-handler, server.error-handler-404 and server.errorfile-prefix under lighttpd
 * 1.4.69 and koa-lighty on the same config: a PHP handler and a static one, what PHP sees
 * (REQUEST_URI, REDIRECT_URI, REDIRECT_STATUS, SCRIPT_NAME, method, body), a POST to a missing
 * URL, errors of the access check, of a backend that is down and of a broken request,
 * handlers set in conditionals, a handler that fails itself, and lighttpd's error pages
 * replaced by files.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { type RawResponse, rawExchange } from './helpers/http.js';
import { bothForFile, seen } from './helpers/same-conf.js';

const root = mkdtempSync(join(tmpdir(), 'koa-lighty-errh-'));
const www = join(root, 'www');
const errors = join(root, 'errors');
for (const dir of ['', 'php', 'static', 'broken', 'fc', 'fcstatic', 'loop', 'ef']) {
  mkdirSync(join(www, dir), { recursive: true });
  writeFileSync(join(www, dir, 'secret.inc'), 'secret\n');
  writeFileSync(join(www, dir, 'x.down'), 'served by a backend that is down\n');
}
writeFileSync(
  join(www, 'handler.php'),
  `<?php
foreach (['REQUEST_URI', 'REDIRECT_URI', 'REDIRECT_STATUS', 'SCRIPT_NAME', 'REQUEST_METHOD',
          'QUERY_STRING', 'CONTENT_LENGTH', 'CONTENT_TYPE', 'HTTP_CONTENT_LENGTH', 'SERVER_SOFTWARE'] as $k)
  echo $k, '=', $_SERVER[$k] ?? '(unset)', "\\n";
echo 'body=', file_get_contents('php://input'), "\\n";
`,
);
writeFileSync(join(www, 'handler.html'), '<p>the static handler</p>\n');
writeFileSync(join(www, 'page.html'), '<p>a page</p>\n');
mkdirSync(errors);
writeFileSync(join(errors, 'e-404.html'), '<p>our own 404</p>\n');
writeFileSync(join(errors, 'e-403.html'), '<p>our own 403</p>\n');
writeFileSync(join(errors, 'e-503.html'), '<p>our own 503</p>\n');

const conf = (sockdir: string) => `
server.document-root = "${www}"
server.modules = ("mod_access", "mod_fastcgi")
server.tag = "global-tag"
mimetype.assign = (".html" => "text/html", ".txt" => "text/plain")
url.access-deny = (".inc")
fastcgi.server = (
  ".php" => ((
    "bin-path" => "/usr/bin/php-cgi",
    "socket" => "${sockdir}/php.socket",
    "max-procs" => 1,
    "bin-environment" => ("PHP_FCGI_CHILDREN" => "1"),
  )),
  ".down" => (( "socket" => "${sockdir}/nobody-listens.socket" )),
)
server.error-handler = "/handler.php"
$HTTP["url"] =^ "/static/" { server.error-handler = "/handler.html" }
$HTTP["url"] =^ "/broken/" { server.error-handler = "/missing-handler.php" }
$HTTP["url"] =^ "/fc/" {
  server.error-handler = ""
  server.error-handler-404 = "/handler.php"
  url.access-deny = (".php")
}
$HTTP["url"] =^ "/fcstatic/" {
  server.error-handler = ""
  server.error-handler-404 = "/handler.html"
}
$HTTP["url"] =^ "/loop/" {
  server.error-handler = ""
  server.error-handler-404 = "/loop/missing"
}
$HTTP["url"] =^ "/ef/" {
  server.error-handler = ""
  server.errorfile-prefix = "${errors}/e-"
}
$HTTP["url"] == "/handler.php" { server.tag = "handler-tag" }
`;

const servers = bothForFile(conf, () => rmSync(root, { recursive: true, force: true }));

interface Sent {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

/** The same request to both servers, as bytes: [lighttpd's answer, koa-lighty's]. */
function both({ method = 'GET', path, headers = {}, body }: Sent): Promise<[RawResponse, RawResponse]> {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  if (body !== undefined) lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  const bytes = Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body ?? ''}`, 'latin1');
  return Promise.all([rawExchange(servers().lighttpd.port, bytes), rawExchange(servers().koaPort, bytes)]);
}

const HEADERS = ['server', 'content-length', 'etag', 'last-modified', 'content-range', 'accept-ranges'];
const form = { 'Content-Type': 'application/x-www-form-urlencoded' };

const cases: Array<[title: string, request: Sent]> = [
  ['PHP handler for a missing file', { path: '/php/missing?q=1' }],
  ['PHP handler for a missing script', { path: '/php/missing.php' }],
  ['PHP handler for an access-deny 403', { path: '/php/secret.inc' }],
  ['PHP handler for a backend that is down (503)', { path: '/php/x.down' }],
  [
    'PHP handler: a POST runs it as GET without the body',
    { method: 'POST', path: '/php/missing', headers: form, body: 'a=1' },
  ],
  ['PHP handler: a PUT that nobody handles (501)', { method: 'PUT', path: '/page.html', body: 'x' }],
  ['PHP handler: HEAD', { method: 'HEAD', path: '/php/missing' }],
  ['PHP handler: Range cuts its output', { path: '/php/missing', headers: { Range: 'bytes=0-9' } }],
  ['PHP handler: a broken request (400)', { path: '/%00' }],
  ['static handler: sent with the original 404', { path: '/static/missing' }],
  ['static handler: sent with the original 403', { path: '/static/secret.inc' }],
  ['static handler: a POST', { method: 'POST', path: '/static/missing', headers: form, body: 'a=1' }],
  ['static handler: HEAD', { method: 'HEAD', path: '/static/missing' }],
  ['static handler: whole, whatever the Range', { path: '/static/missing', headers: { Range: 'bytes=0-3' } }],
  ['handler that is missing itself: the 404 page', { path: '/broken/missing' }],
  ['handler that is missing itself: the 403 page', { path: '/broken/secret.inc' }],
  ['error-handler-404 in a block, its handler outside it', { path: '/fc/missing?x=%41' }],
  ['error-handler-404 takes 403s too', { path: '/fc/x.php' }],
  [
    'error-handler-404: a POST reaches PHP as a POST, with its body',
    { method: 'POST', path: '/fc/missing', headers: form, body: 'a=1&b=2' },
  ],
  ['error-handler-404 leaves a 503 alone', { path: '/fc/x.down' }],
  ['error-handler-404, static: the file with 200', { path: '/fcstatic/missing' }],
  [
    'error-handler-404, static: a PUT gets the 501 page',
    { method: 'PUT', path: '/fcstatic/missing', body: 'x' },
  ],
  ['a handler that 404s itself: the plain page, no loop', { path: '/loop/missing' }],
  ['errorfile-prefix: the 404 file', { path: '/ef/missing' }],
  ['errorfile-prefix: the 403 file', { path: '/ef/secret.inc' }],
  ['errorfile-prefix: the 503 file', { path: '/ef/x.down' }],
  ['errorfile-prefix: HEAD', { method: 'HEAD', path: '/ef/missing' }],
  ['errorfile-prefix: no file for 501, the built-in page', { method: 'PUT', path: '/ef/missing', body: 'x' }],
  ['a file that is there is not touched', { path: '/page.html' }],
];

for (const [title, request] of cases) {
  test(`${title}: ${request.method ?? 'GET'} ${request.path}`, async (t) => {
    const [lighttpd, koa] = await both(request);
    t.deepEqual(seen(koa, HEADERS), seen(lighttpd, HEADERS));
  });
}

test('PHP sees the original request and the error it answers for', async (t) => {
  const [, koa] = await both({ method: 'POST', path: '/php/secret.inc?q=1', headers: form, body: 'a=1' });
  t.is(koa.status, 200);
  t.is(koa.headers['connection'], 'close');
  t.is(
    koa.body.toString(),
    [
      'REQUEST_URI=/php/secret.inc?q=1',
      'REDIRECT_URI=/handler.php',
      'REDIRECT_STATUS=403',
      'SCRIPT_NAME=/handler.php',
      'REQUEST_METHOD=GET',
      'QUERY_STRING=',
      'CONTENT_LENGTH=0',
      'CONTENT_TYPE=application/x-www-form-urlencoded',
      'HTTP_CONTENT_LENGTH=3',
      'SERVER_SOFTWARE=handler-tag',
      'body=',
      '',
    ].join('\n'),
  );
});

test('the front controller gets the POST body', async (t) => {
  const [, koa] = await both({ method: 'POST', path: '/fc/shop/cart', headers: form, body: 'item=7' });
  t.is(koa.status, 200);
  const body = koa.body.toString();
  t.true(body.includes('REQUEST_URI=/fc/shop/cart\n'));
  t.true(body.includes('REQUEST_METHOD=POST\n'));
  t.true(body.includes('REDIRECT_STATUS=404\n'));
  t.true(body.endsWith('body=item=7\n'));
});

test('a request body the handler does not read closes the connection', async (t) => {
  // Keep-alive asked for: only the server's own decision closes the connection.
  const bytes = Buffer.from(
    'POST /php/missing HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\n\r\na=1',
    'latin1',
  );
  const [lighttpd, koa] = await Promise.all([
    rawExchange(servers().lighttpd.port, bytes),
    rawExchange(servers().koaPort, bytes),
  ]);
  t.is(lighttpd.headers['connection'], 'close');
  t.is(koa.headers['connection'], 'close');
  t.deepEqual(seen(koa, HEADERS), seen(lighttpd, HEADERS));
});
