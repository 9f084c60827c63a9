/**
 * errorHandler() in its Koa form: against lighttpd 1.4.69 running the equivalent
 * lighttpd.conf (static handlers, errorfile-prefix), then what a Koa user relies on: a thrown
 * error goes to the handler, the handler sees the request state, a handler needs a dispatch,
 * and the core keys are options, not a module.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import Koa, { type Middleware } from 'koa';
import compose from 'koa-compose';
import type { MimeAssign } from '../src/http/mime.js';
import { requestState } from '../src/http/request-state.js';
import { memoryLogger } from '../src/log.js';
import { accessDeny } from '../src/middleware/access.js';
import { type ErrorHandlerOptions, errorHandler } from '../src/middleware/error-handler.js';
import { lighttpdErrors } from '../src/middleware/errors.js';
import { stripInternalHeaders } from '../src/middleware/response-filter.js';
import { staticFiles } from '../src/middleware/static.js';
import { OptionError } from '../src/option-error.js';
import { loadConfig } from '../src/server/app.js';
import { rawRequest, serve } from './helpers/http.js';
import { type ComparedRequest, compareWithLighttpd } from './helpers/lighttpd.js';

const MIME: MimeAssign = [
  ['.html', 'text/html'],
  ['.txt', 'text/plain;charset=utf-8'],
];

/** The stages after the error handler, once for the request and again for its handler. */
function koaApp(root: string, options: ErrorHandlerOptions, mime: MimeAssign = MIME): Koa {
  const site = compose([
    accessDeny({ deny: ['.inc'] }),
    staticFiles({ documentRoot: root, mimeTypes: mime, log: memoryLogger() }),
  ] as Middleware[]);
  const app = new Koa();
  app.use(lighttpdErrors({ log: memoryLogger() }));
  app.use(stripInternalHeaders());
  app.use(errorHandler({ ...options, mimeTypes: mime, dispatch: site, log: memoryLogger() }));
  app.use(site);
  return app;
}

const base = (root: string, mime: MimeAssign = MIME) => `
server.document-root = "${root}"
server.modules = ("mod_access")
url.access-deny = (".inc")
mimetype.assign = (${mime.map(([suffix, type]) => `"${suffix}" => "${type}"`).join(', ')})
`;

const prepare = (root: string) => {
  mkdirSync(join(root, 'errors'));
  writeFileSync(join(root, 'errors', 'e-404.html'), '<p>not here</p>\n');
  writeFileSync(join(root, 'errors', 'e-501.html'), '<p>not done</p>\n');
};

const requests: ComparedRequest[] = [
  { path: '/missing' },
  { path: '/config.inc' },
  { path: '/noindex/' },
  { path: '/missing', method: 'HEAD' },
  { path: '/missing', method: 'POST', body: 'a=1' },
  { path: '/missing', method: 'PUT', body: 'a=1' },
  { path: '/missing', headers: { Range: 'bytes=0-5' } },
  { path: '/index.html' },
];

compareWithLighttpd('server.error-handler, static', {
  lighttpdConf: (root) => `${base(root)}server.error-handler = "/sub/page.txt"\n`,
  koaApp: (root) => koaApp(root, { handler: '/sub/page.txt' }),
  requests,
});

compareWithLighttpd('server.error-handler-404, static, with errorfile-prefix', {
  prepare,
  lighttpdConf: (root) =>
    `${base(root)}server.error-handler-404 = "/sub/page.txt"\nserver.errorfile-prefix = "${root}/errors/e-"\n`,
  koaApp: (root) => koaApp(root, { handler404: '/sub/page.txt', errorfilePrefix: `${root}/errors/e-` }),
  requests,
});

compareWithLighttpd('server.errorfile-prefix without a type for .html', {
  prepare,
  lighttpdConf: (root) =>
    `${base(root, [['.txt', 'text/plain']])}server.errorfile-prefix = "${root}/errors/e-"\n`,
  koaApp: (root) => koaApp(root, { errorfilePrefix: `${root}/errors/e-` }, [['.txt', 'text/plain']]),
  requests: [{ path: '/missing' }, { path: '/config.inc' }],
});

test('a thrown error goes to the handler, which sees the new path and the status', async (t) => {
  const log = memoryLogger();
  const site: Middleware = async (ctx) => {
    const state = requestState(ctx);
    if (state.path === '/down') ctx.throw(503, 'backend gone');
    if (state.path === '/oops')
      ctx.body = `handler for ${state.target}: ${state.redirectStatus} ${ctx.method}`;
  };
  const app = new Koa();
  app.use(lighttpdErrors({ log }));
  app.use(errorHandler({ handler: '/oops', dispatch: (ctx) => site(ctx, async () => {}), log }));
  app.use(site);
  const served = await serve(app);
  t.teardown(() => served.close());
  const answer = await rawRequest(served.port, '/down?x=1', {}, 'DELETE');
  t.is(answer.status, 503);
  t.is(answer.body.toString(), 'handler for /down?x=1: 503 GET');
  t.true(log.lines.some((line) => line.includes('503 Service Unavailable for DELETE /down?x=1')));
});

test('a handler needs the stages that serve it', (t) => {
  const error = t.throws(() => errorHandler({ handler404: '/index.php' }), { instanceOf: OptionError });
  t.is(error?.option, 'dispatch');
  t.notThrows(() => errorHandler({ errorfilePrefix: '/srv/errors/' }));
});

test('the error-handler keys are core options, not a module server.modules can name', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'koa-lighty-errh-conf-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'lighttpd.conf');
  writeFileSync(
    file,
    `server.document-root = "${dir}"\nserver.modules = ("server.error-handler")\n` +
      'server.error-handler = "/e.php"\nserver.error-handler-404 = "/404.php"\nserver.errorfile-prefix = "/e/"\n',
  );
  const { warnings } = loadConfig(file);
  t.deepEqual(warnings, [
    `${file}: server.modules: server.error-handler is not supported by koa-lighty yet and is not loaded`,
  ]);
});
