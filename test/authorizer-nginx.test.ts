/**
 * koa-lighty authorizer behind a real nginx: auth_request asks its HTTP endpoint about every
 * request, and nginx serves what it allows. The nginx conf is examples/authorizer/nginx.conf.
 */
import test from 'ava';
import type { RunningAuthorizer } from '../src/authorizer/start.js';
import {
  example,
  link,
  makeSite,
  protectionTests,
  type Site,
  startSiteAuthorizer,
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

protectionTests(
  { name: 'nginx', serverHeader: /^nginx/, expiredNote: ', through the 401 that nginx can pass' },
  get,
);

test('the refusals carried as 401 are not errors in nginx’s log', async (t) => {
  await get(link(7200));
  await get('/downloads/file.bin', { from: '127.0.0.4' });
  t.notRegex(await nginx!.errorLog(), /auth request unexpected status/);
});
