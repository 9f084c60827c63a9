import { createHash, randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import test from 'ava';
import { PHP_FIXTURES, phpSite } from './fastcgi-middleware-app.js';
import { rawExchange, rawRequest } from './helpers/http.js';

const json = (body: Buffer) => JSON.parse(body.toString()) as Record<string, unknown>;
const md5 = (data: Buffer) => createHash('md5').update(data).digest('hex');

function post(port: number, path: string, body: Buffer, headers: Record<string, string> = {}) {
  const head = [`POST ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
  for (const [name, value] of Object.entries(headers)) head.push(`${name}: ${value}`);
  if (!headers['Transfer-Encoding']) head.push(`Content-Length: ${body.length}`);
  return rawExchange(port, Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`), body]), 30_000);
}

function chunked(data: Buffer, size: number): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0; at < data.length; at += size) {
    const piece = data.subarray(at, at + size);
    parts.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

test('GET runs the script with its query string; small output gets a Content-Length', async (t) => {
  const site = await phpSite(t);
  const res = await rawRequest(site.port, '/mw-echo.php?a=1&b=two%20words');
  t.is(res.status, 200);
  t.deepEqual(json(res.body).get, { a: '1', b: 'two words' });
  t.is(res.headers['content-type'], 'application/json');
  t.is(res.headers['content-length'], String(res.body.length));
});

test('HEAD goes to PHP as HEAD and no body comes back', async (t) => {
  const site = await phpSite(t);
  const res = await rawRequest(site.port, '/mw-echo.php', {}, 'HEAD');
  t.is(res.status, 200);
  t.is(res.headers['content-type'], 'application/json');
  t.is(res.body.length, 0);
  // The worker and its connection are fine for the next request.
  t.is(json((await rawRequest(site.port, '/mw-echo.php')).body).method, 'GET');
});

test('POST: a small form, 10 MiB of bytes, and chunked bodies reach PHP whole', async (t) => {
  const site = await phpSite(t);
  const form = await post(site.port, '/mw-echo.php', Buffer.from('name=koa&lang=ts'), {
    'Content-Type': 'application/x-www-form-urlencoded',
  });
  t.deepEqual(json(form.body).post, { name: 'koa', lang: 'ts' });

  const big = randomBytes(10 * 1024 * 1024);
  const bigRes = json(
    (await post(site.port, '/mw-echo.php', big, { 'Content-Type': 'application/octet-stream' })).body,
  );
  t.is(bigRes.input_length, big.length);
  t.is(bigRes.input_md5, md5(big));
  t.is(bigRes.content_length, String(big.length));

  const small = Buffer.from('chunked=yes&n=2');
  const smallRes = json(
    (
      await post(site.port, '/mw-echo.php', chunked(small, 5), {
        'Transfer-Encoding': 'chunked',
        'Content-Type': 'application/x-www-form-urlencoded',
      })
    ).body,
  );
  t.deepEqual(smallRes.post, { chunked: 'yes', n: '2' });
  t.is(smallRes.content_length, String(small.length));

  // Larger than what is spooled in memory: goes through a temporary file.
  const large = randomBytes(3 * 1024 * 1024 + 17);
  const largeRes = json(
    (await post(site.port, '/mw-echo.php', chunked(large, 60_000), { 'Transfer-Encoding': 'chunked' })).body,
  );
  t.is(largeRes.input_length, large.length);
  t.is(largeRes.input_md5, md5(large));
});

test('PATH_INFO: /script.php/extra/path runs the script with the rest as PATH_INFO', async (t) => {
  const site = await phpSite(t);
  const res = await rawRequest(site.port, '/mw-server.php/extra/path?q=1');
  t.is(res.status, 200);
  const server = json(res.body);
  t.is(server.SCRIPT_NAME, '/mw-server.php');
  t.is(server.PATH_INFO, '/extra/path');
  t.is(server.PHP_SELF, '/mw-server.php/extra/path');
  t.is(server.SCRIPT_FILENAME, `${PHP_FIXTURES}mw-server.php`);
  t.is(server.PATH_TRANSLATED, `${PHP_FIXTURES}extra/path`);
  t.is(server.REQUEST_URI, '/mw-server.php/extra/path?q=1');
  t.is(server.QUERY_STRING, 'q=1');
});

test('$_SERVER holds the CGI environment of spec 3.3 and no httpoxy variable', async (t) => {
  const site = await phpSite(t);
  const res = await rawRequest(site.port, '/mw-server.php', {
    Proxy: 'http://evil.example:3128',
    'X-Sendfile-Type': 'X-Sendfile',
    'User-Agent': 'ava',
  });
  const server = json(res.body);
  t.is(server.GATEWAY_INTERFACE, 'CGI/1.1');
  t.is(server.REDIRECT_STATUS, '200');
  t.is(server.REQUEST_METHOD, 'GET');
  t.is(server.SERVER_PROTOCOL, 'HTTP/1.1');
  t.is(server.SERVER_SOFTWARE, 'koa-lighty');
  // As configured: lighttpd keeps a document root's trailing slash in DOCUMENT_ROOT.
  t.true(PHP_FIXTURES.endsWith('/'));
  t.is(server.DOCUMENT_ROOT, PHP_FIXTURES);
  t.is(server.SERVER_PORT, String(site.port));
  t.is(server.REMOTE_ADDR, '127.0.0.1');
  t.is(server.HTTP_USER_AGENT, 'ava');
  t.is(server.CONTENT_LENGTH, '0');
  t.false('HTTP_PROXY' in server);
  t.false('HTTP_X_SENDFILE_TYPE' in server);
  t.false('PATH_INFO' in server);
});

test('cookies in and out: two Set-Cookie headers stay two lines', async (t) => {
  const site = await phpSite(t);
  const res = await rawRequest(site.port, '/mw-cookies.php', { Cookie: 'sid=abc; theme=dark' });
  const cookies = res.headerLines.filter((line) => /^set-cookie:/i.test(line));
  t.deepEqual(cookies, [
    'Set-Cookie: first=one; path=/',
    'Set-Cookie: second=two%2C%20with%20comma; path=/; HttpOnly',
  ]);
  const echoed = json((await rawRequest(site.port, '/mw-echo.php', { Cookie: 'sid=abc; theme=dark' })).body);
  t.deepEqual(echoed.cookie, { sid: 'abc', theme: 'dark' });
});

test('Location without Status is a 302', async (t) => {
  const site = await phpSite(t);
  const res = await rawRequest(site.port, '/mw-redirect.php');
  t.is(res.status, 302);
  t.is(res.headers.location, '/mw-echo.php?from=redirect');
});

test("PHP's Status: 404 is passed through with PHP's own body", async (t) => {
  const site = await phpSite(t);
  const res = await rawRequest(site.port, '/mw-not-found.php');
  t.is(res.status, 404);
  t.is(res.body.toString(), 'PHP says: no such page');
});

test('a missing script is 404 with the error page; PHP is not asked', async (t) => {
  const site = await phpSite(t);
  const res = await rawRequest(site.port, '/no-such-script.php');
  t.is(res.status, 404);
  t.regex(res.body.toString(), /<title>404 Not Found<\/title>/);
  const traversal = await rawRequest(site.port, '/mw-echo.php/../../etc/passwd.php');
  t.is(traversal.status, 404);
});

test("PHP's errors and error_log() lines reach the error log; the page still renders", async (t) => {
  const site = await phpSite(t);
  const res = await rawRequest(site.port, '/mw-errors.php');
  t.is(res.status, 200);
  t.is(res.body.toString(), 'still running');
  t.true(
    site.log.lines.some((line) => line.includes('mw-errors: a line from error_log()')),
    site.log.lines.join('\n'),
  );
  t.true(site.log.lines.some((line) => line.includes('mw-errors: a user warning')));
});

test('header names keep PHP spelling; X-LIGHTTPD-*, X-Sendfile and X-Sendfile2 never reach the client', async (t) => {
  const site = await phpSite(t);
  const res = await rawRequest(site.port, '/mw-headers.php');
  t.is(res.status, 200);
  t.is(res.body.toString(), 'the body PHP wrote');
  t.true(res.headerLines.includes('x-MiXeD-CaSe: as written'), res.headerLines.join('\n'));
  t.true(res.headerLines.includes('Content-type: text/html; charset=UTF-8'));
  t.is(res.headers['x-sendfile-extra'], 'kept');
  t.is(res.headers['x-other'], 'kept');
  for (const line of res.headerLines) t.notRegex(line, /^(x-lighttpd-|x-sendfile:|x-sendfile2:)/i);
});

test('64 concurrent clients against 4 php-cgi children all get their answer', async (t) => {
  const site = await phpSite(t, { children: 4 });
  const answers = await Promise.all(
    Array.from({ length: 64 }, (_, i) => rawRequest(site.port, `/mw-echo.php?client=${i}`)),
  );
  t.deepEqual(
    answers.map((res) => res.status),
    Array(64).fill(200),
  );
  t.deepEqual(
    answers.map((res) => (json(res.body).get as { client: string }).client),
    Array.from({ length: 64 }, (_, i) => String(i)),
  );
});

test('a client that disconnects mid-response frees the php-cgi worker at once', async (t) => {
  const site = await phpSite(t, { children: 1 });
  await new Promise<void>((resolve, reject) => {
    const socket = connect(site.port, '127.0.0.1');
    let seen = 0;
    socket.on('data', (chunk) => {
      seen += chunk.length;
      if (seen > 256 * 1024) {
        socket.destroy();
        resolve();
      }
    });
    socket.on('error', reject);
    // 1 TiB: the only worker never finishes on its own, so it is free again only if the
    // bridge gave up its connection when the client left. Otherwise the next request waits
    // in the queue for its timeout and gets 503: no stopwatch needed.
    socket.write('GET /mw-stream.php?kib=1073741824 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  });
  const res = await rawRequest(site.port, '/mw-pid.php');
  t.is(res.status, 200);
});

test('a large response streams to the client complete, with chunked framing', async (t) => {
  const site = await phpSite(t);
  const res = await rawRequest(site.port, '/mw-stream.php?kib=4096');
  t.is(res.status, 200);
  t.is(res.body.length, 4096 * 1024);
  t.is(res.headers['transfer-encoding'], 'chunked');
});

test('index-file names: / runs the index script', async (t) => {
  const site = await phpSite(t, { middleware: { indexFiles: ['index.html', 'mw-index.php'] } });
  const res = await rawRequest(site.port, '/');
  t.is(res.status, 200);
  t.is(res.body.toString(), 'index: /mw-index.php');
});

test('map-extensions sends .php3 to the .php hosts', async (t) => {
  const site = await phpSite(t, { middleware: { mapExtensions: { '.php3': '.php' } } });
  const res = await rawRequest(site.port, '/mw-mapped.php3');
  t.is(res.body.toString(), 'php3 via map-extensions');
});

test('read-timeout: a backend silent for too long is a 504', async (t) => {
  const site = await phpSite(t, { host: { readTimeout: 0.3 } });
  const res = await rawRequest(site.port, '/mw-sleep.php?ms=2000');
  t.is(res.status, 504);
  t.regex(res.body.toString(), /504 Gateway Timeout/);
});

test('PHP_FCGI_MAX_REQUESTS=2: 200 sequential requests all succeed across worker restarts', async (t) => {
  const site = await phpSite(t, { children: 1, maxRequests: 2 });
  const pids = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const res = await rawRequest(site.port, '/mw-pid.php');
    t.is(res.status, 200);
    pids.add(res.body.toString());
  }
  // php-cgi replaced its worker every two requests: the kept connection was closed under us.
  t.true(pids.size >= 50, `${pids.size} workers`);
});
