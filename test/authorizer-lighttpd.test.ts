/**
 * koa-lighty authorizer behind a real lighttpd 1.4.69: fastcgi.server in "mode" =>
 * "authorizer" asks it about every request over FastCGI (FCGI_AUTHORIZER), and lighttpd
 * serves what it allows from its own document root. The conf is examples/authorizer/lighttpd-front.conf.
 */
import test from 'ava';
import type { RunningAuthorizer } from '../src/authorizer/start.js';
import {
  BAD_USER,
  DENY_URL,
  DOWNLOAD_BODY,
  example,
  GOOD_USER,
  link,
  makeSite,
  PROTECTED_BODY,
  type Site,
  startSiteAuthorizer,
  tamperedLink,
} from './authorizer-site.js';
import { httpGet, rawExchange } from './helpers/http.js';
import { type RunningLighttpd, startLighttpd } from './helpers/lighttpd.js';

let site: Site;
let authorizer: RunningAuthorizer | undefined;
let lighttpd: RunningLighttpd | undefined;

/** examples/authorizer/lighttpd-front.conf, for this site. */
function frontConf(authorizerPort: number): string {
  return example('lighttpd-front.conf', {
    '/srv/www': site.www,
    '/srv/protected': site.protectedRoot,
    '"port" => 9011': `"port" => ${authorizerPort}`,
  });
}

test.before(async () => {
  site = makeSite();
  const started = await startSiteAuthorizer(site, 'fastcgi');
  authorizer = started.authorizer;
  lighttpd = await startLighttpd(frontConf(started.port));
});

test.after.always(async () => {
  await lighttpd?.stop();
  await authorizer?.close();
  site?.remove();
});

const get = (path: string, options: { from?: string; headers?: Record<string, string> } = {}) =>
  httpGet(lighttpd!.port, path, options);

test('a valid secdownload link passes: lighttpd serves the file', async (t) => {
  const answer = await get(link());
  t.is(answer.status, 200);
  t.is(answer.body.toString(), PROTECTED_BODY);
});

test('a tampered link is refused with 403', async (t) => {
  const answer = await get(tamperedLink());
  t.is(answer.status, 403);
  t.notRegex(answer.body.toString(), /protected file/);
});

test('an expired link is 410', async (t) => {
  const answer = await get(link(7200));
  t.is(answer.status, 410);
  t.notRegex(answer.body.toString(), /protected file/);
});

test('the secdownload root itself is closed: only links open it', async (t) => {
  t.is((await get('/protected/report.txt')).status, 403);
});

test('url.access-deny is applied', async (t) => {
  const answer = await get('/config.inc');
  t.is(answer.status, 403);
  t.notRegex(answer.body.toString(), /leaked/);
});

test('a hotlinked image is denied; from the site itself or without a Referer it is served', async (t) => {
  t.is((await get('/gallery/sea.png', { headers: { Referer: 'http://elsewhere.example/' } })).status, 403);
  t.is((await get('/gallery/sea.png', { headers: { Referer: 'http://127.0.0.1/page' } })).status, 200);
  t.is((await get('/gallery/sea.png')).status, 200);
});

test('trigger: a download needs a visit first, and the visit counts for that client only', async (t) => {
  const refused = await get('/downloads/file.bin', { from: '127.0.0.2' });
  t.is(refused.status, 307);
  t.is(refused.headers.location, DENY_URL);

  t.is((await get('/index.html', { from: '127.0.0.2' })).status, 200);
  const allowed = await get('/downloads/file.bin', { from: '127.0.0.2' });
  t.is(allowed.status, 200);
  t.is(allowed.body.toString(), DOWNLOAD_BODY);

  const other = await get('/downloads/file.bin', { from: '127.0.0.3' });
  t.is(other.status, 307);
});

test('mod_auth: 401 with the challenge, then the right password passes and a wrong one does not', async (t) => {
  const challenged = await get('/admin/');
  t.is(challenged.status, 401);
  t.regex(String(challenged.headers['www-authenticate']), /^Basic realm="staff"/);
  const admitted = await get('/admin/', { headers: { Authorization: GOOD_USER } });
  t.is(admitted.status, 200);
  t.regex(admitted.body.toString(), /admin/);
  t.is((await get('/admin/', { headers: { Authorization: BAD_USER } })).status, 401);
});

test('a refusal keeps the client’s connection open: the next request on it is answered', async (t) => {
  // lighttpd ends the client's connection when a backend answers `Connection: close`.
  const pipelined =
    'GET /config.inc HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' +
    'GET /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n';
  const answer = await rawExchange(lighttpd!.port, Buffer.from(pipelined, 'latin1'));
  t.is(answer.status, 403);
  t.regex(answer.body.toString('latin1'), /HTTP\/1\.1 200 OK[\s\S]*<p>home<\/p>/);
});
