/**
 * koa-lighty authorizer behind a real lighttpd 1.4.69: fastcgi.server in "mode" =>
 * "authorizer" asks it about every request over FastCGI (FCGI_AUTHORIZER), and lighttpd
 * serves what it allows from its own document root. The conf is examples/authorizer/lighttpd-front.conf.
 */
import test from 'ava';
import type { RunningAuthorizer } from '../src/authorizer/start.js';
import { example, makeSite, protectionTests, type Site, startSiteAuthorizer } from './authorizer-site.js';
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

protectionTests({ name: 'lighttpd' }, get);

test('a refusal keeps the client’s connection open: the next request on it is answered', async (t) => {
  // lighttpd ends the client's connection when a backend answers `Connection: close`.
  const pipelined =
    'GET /config.inc HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' +
    'GET /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n';
  const answer = await rawExchange(lighttpd!.port, Buffer.from(pipelined, 'latin1'));
  t.is(answer.status, 403);
  t.regex(answer.body.toString('latin1'), /HTTP\/1\.1 200 OK[\s\S]*<p>home<\/p>/);
});
