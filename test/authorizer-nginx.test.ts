/**
 * koa-lighty authorizer behind a real nginx: auth_request asks its HTTP endpoint about every
 * request, and nginx serves what it allows. The nginx conf is examples/authorizer/nginx.conf.
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
import { httpGet } from './helpers/http.js';
import { type RunningNginx, startNginx } from './helpers/nginx.js';

let site: Site;
let authorizer: RunningAuthorizer | undefined;
let nginx: RunningNginx | undefined;

/** examples/authorizer/nginx.conf, for this site. */
function serverBlock(authorizerPort: number, port: number): string {
  return example('nginx.conf', {
    'listen 80;': `listen 127.0.0.1:${port};`,
    '/srv/www': site.www,
    '/srv/protected': site.protectedRoot,
    '127.0.0.1:9010': `127.0.0.1:${authorizerPort}`,
  });
}

test.before(async () => {
  site = makeSite();
  const started = await startSiteAuthorizer(site, 'http', { addressHeader: 'X-Real-IP', nginx: true });
  authorizer = started.authorizer;
  nginx = await startNginx((port) => serverBlock(started.port, port));
});

test.after.always(async () => {
  await nginx?.stop();
  await authorizer?.close();
  site?.remove();
});

const get = (path: string, options: { from?: string; headers?: Record<string, string> } = {}) =>
  httpGet(nginx!.port, path, options);

test('a valid secdownload link passes: nginx serves the file', async (t) => {
  const answer = await get(link());
  t.is(answer.status, 200);
  t.is(answer.body.toString(), PROTECTED_BODY);
});

test('a tampered link is refused by nginx with 403', async (t) => {
  const answer = await get(tamperedLink());
  t.is(answer.status, 403);
  t.regex(String(answer.headers.server), /^nginx/);
  t.notRegex(answer.body.toString(), /protected file/);
});

test('an expired link is 410, through the 401 that nginx can pass', async (t) => {
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

test('the refusals carried as 401 are not errors in nginx’s log', async (t) => {
  await get(link(7200));
  await get('/downloads/file.bin', { from: '127.0.0.4' });
  t.notRegex(await nginx!.errorLog(), /auth request unexpected status/);
});
