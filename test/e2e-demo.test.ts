/**
 * The bundled demo site, as `koa-lighty` (no -f) serves it: PHP home page, X-LIGHTTPD-send-file,
 * trigger-before-download keyed by the visitor's address, the secdownload link printed by the
 * wiki's PHP snippet, url.access-deny and the hotlink rule. A "new visitor" is a different
 * loopback source address (127.0.0.2, …): identity is the peer address, not a header.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { type Answer, httpGet } from './helpers/http.js';
import { PACKAGE_ROOT, type RunningKoaLighty, startKoaLighty } from './helpers/koa-lighty.js';

const DEMO = join(PACKAGE_ROOT, 'fixtures', 'demo');
let demo: RunningKoaLighty | undefined;

test.before(async () => {
  demo = await startKoaLighty();
});
test.after.always(async () => {
  await demo?.stop();
});

const protectedFile = (name: string) => readFileSync(join(DEMO, 'protected', name));
const wwwFile = (name: string) => readFileSync(join(DEMO, 'www', name));

test('it says where it listens and prints links to try', async (t) => {
  const link = new RegExp(`http://127\\.0\\.0\\.1:${demo!.port}/report\\.php`);
  // The links follow the "listening on" line; give the pipe a moment to deliver them.
  for (let i = 0; i < 40 && !link.test(demo!.output()); i++) await new Promise((r) => setTimeout(r, 50));
  t.regex(demo!.output(), new RegExp(`listening on http://127\\.0\\.0\\.1:${demo!.port}`));
  t.regex(demo!.output(), link);
});

test('the home page is PHP, run by php-cgi', async (t) => {
  const home = await get('/');
  t.is(home.status, 200);
  t.regex(String(home.headers['content-type']), /^text\/html/);
  const html = home.body.toString();
  t.regex(html, /This page is PHP 8\.\d+\.\d+/);
  t.regex(html, /It was read from <code>\/index\.php<\/code>/);
  t.notRegex(html, /<\?php|<\?=/);
});

test('/report.php: PHP names a protected file with X-LIGHTTPD-send-file and the server sends it; no X-LIGHTTPD header leaks', async (t) => {
  const report = await get('/report.php');
  t.is(report.status, 200);
  t.deepEqual(report.body, protectedFile('report.txt'));
  t.is(report.headers['content-length'], String(protectedFile('report.txt').length));
  t.regex(String(report.headers['content-type']), /^text\/plain/);
  t.deepEqual(
    report.rawNames.filter((name) => /^x-(lighttpd|sendfile)/i.test(name)),
    [],
  );
});

test('trigger-before-download: a new visitor is sent to /visit-first.html until it opens /', async (t) => {
  const visitor = '127.0.0.2';
  const first = await get('/downloads/intro.mpg', { from: visitor });
  t.is(first.status, 307);
  t.is(first.headers['location'], '/visit-first.html');
  t.is(first.body.length, 0);
  const page = await get('/visit-first.html', { from: visitor });
  t.is(page.status, 200);
  t.deepEqual(page.body, wwwFile('visit-first.html'));

  t.is((await get('/', { from: visitor })).status, 200); // the visit (trigger-url "(/$|\.php)")
  const download = await get('/downloads/intro.mpg', { from: visitor });
  t.is(download.status, 200);
  t.is(download.headers['content-type'], 'video/mpeg');
  t.deepEqual(download.body, wwwFile('downloads/intro.mpg'));

  // Another address is still a new visitor, even when it claims the first one's address:
  // X-Forwarded-For is believed only from trusted proxies (design.md section 7).
  const other = await get('/downloads/intro.mpg', { from: '127.0.0.3' });
  t.is(other.status, 307);
  const forged = await get('/downloads/intro.mpg', {
    from: '127.0.0.4',
    headers: { 'X-Forwarded-For': visitor },
  });
  t.is(forged.status, 307);
  t.is(forged.headers['location'], '/visit-first.html');
});

test('secdownload: the link printed by index.php (the wiki snippet) opens; a tampered one is refused with 403', async (t) => {
  const home = (await get('/', { from: '127.0.0.5' })).body.toString();
  const href = /<a id="secdownload" href="([^"]+)"/.exec(home)?.[1];
  t.truthy(href, 'index.php prints the link');
  const link = href!.replace(/&amp;/g, '&');
  t.regex(link, /^\/dl\/[0-9a-f]{32}\/[0-9a-f]{8}\/secret-file\.txt$/);
  const opened = await get(link);
  t.is(opened.status, 200);
  t.deepEqual(opened.body, protectedFile('secret-file.txt'));
  t.is(opened.headers['content-type'], 'text/plain');

  const [, , mac, ts, ...rest] = link.split('/');
  const flip = (c: string) => (c === '0' ? '1' : '0');
  const tamperedMac = `/dl/${flip(mac![0]!)}${mac!.slice(1)}/${ts}/${rest.join('/')}`;
  t.is((await get(tamperedMac)).status, 403, tamperedMac);
  const otherFile = `/dl/${mac}/${ts}/report.txt`;
  t.is((await get(otherFile)).status, 403, otherFile);
  const tsHex = (Number.parseInt(ts!, 16) - 1).toString(16).padStart(8, '0');
  const tamperedTs = `/dl/${mac}/${tsHex}/${rest.join('/')}`;
  t.is((await get(tamperedTs)).status, 403, tamperedTs);
  // The protected directory is not reachable from the web root.
  t.is((await get('/protected/secret-file.txt')).status, 404);
});

test('/secret.inc is denied by url.access-deny: 403', async (t) => {
  const denied = await get('/secret.inc');
  t.is(denied.status, 403);
  t.notRegex(denied.body.toString(), /secret/i);
});

test('gallery images: shown on the site and without a referer, 403 when hotlinked from elsewhere', async (t) => {
  const png = wwwFile('gallery/sea.png');
  const own = await get('/gallery/sea.png', { headers: { Referer: `http://127.0.0.1:${demo!.port}/` } });
  t.is(own.status, 200);
  t.is(own.headers['content-type'], 'image/png');
  t.deepEqual(own.body, png);
  t.is((await get('/gallery/sea.png')).status, 200);
  t.is((await get('/gallery/sea.png', { headers: { Referer: 'http://elsewhere.example/' } })).status, 403);
  t.is(
    (await get('/gallery/sea.png', { headers: { Referer: `http://127.0.0.1:${demo!.port + 1}/` } })).status,
    403,
  );
  t.is((await get('/gallery/sea.png/x', { headers: { Referer: 'http://elsewhere.example/' } })).status, 403);
});

test('the status page and metrics: for 127.0.0.1 only, by the $HTTP["remoteip"] block around them', async (t) => {
  const page = await get('/server-status');
  t.is(page.status, 200);
  t.regex(page.body.toString(), /<h1>Server-Status \(koa-lighty-demo\)<\/h1>/);
  t.regex((await get('/server-status?auto')).body.toString(), /^Total Accesses: \d+\nTotal kBytes: \d+\n/);
  t.regex((await get('/metrics')).body.toString(), /^koa_lighty_fastcgi_max_conns\{key="\.php",.*\} 4$/m);
  // Another address (a loopback one, as no other reaches the demo): nobody handles the URL.
  t.is((await get('/server-status', { from: '127.0.0.2' })).status, 404);
  t.is((await get('/metrics', { from: '127.0.0.2' })).status, 404);
});

/** GET from a chosen loopback source address (the visitor's identity). */
function get(
  path: string,
  options: { from?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  return httpGet(demo!.port, path, options);
}
