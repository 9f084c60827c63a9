/**
 * setenv() as a Koa middleware of its own, its option checks, the config keys' errors at
 * their line, and mod_setenv's headers on secdownload answers (lighttpd 1.4.69 has no
 * mod_secdownload to compare with: 1.4.67's runs in the physical hook, after mod_setenv's
 * uri_clean, and answers 403/410 as lighttpd's own error pages, which get the headers).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import Koa from 'koa';
import { ConfigError } from '../src/config/errors.js';
import { requestState } from '../src/http/request-state.js';
import { memoryLogger } from '../src/log.js';
import { lighttpdErrors } from '../src/middleware/errors.js';
import { setenv } from '../src/middleware/setenv.js';
import { OptionError } from '../src/option-error.js';
import { secdownloadUrl } from '../src/secdownload/url.js';
import { createApp, loadConfig } from '../src/server/app.js';
import { rawRequest, serve } from './helpers/http.js';

const root = mkdtempSync(join(tmpdir(), 'koa-lighty-setenv-koa-'));
test.after.always(() => rmSync(root, { recursive: true, force: true }));

function koaApp(): Koa {
  const app = new Koa();
  app.use(lighttpdErrors({ log: memoryLogger() }));
  app.use(
    setenv({
      addRequestHeaders: { 'X-Added': 'crème', Cookie: 'b=2' },
      setRequestHeaders: [['X-Gone', '']],
      addResponseHeaders: [
        ['X-Frame-Options', 'DENY'],
        ['Set-Cookie', 'b=2'],
      ],
      setResponseHeaders: { 'X-Powered-By': '', 'Cache-Control': 'no-store' },
      addEnvironment: { APP_ENV: 'test' },
    }),
  );
  app.use((ctx) => {
    if (ctx.path === '/throw') ctx.throw(404);
    if (ctx.path === '/raw') {
      // A stage writing the head itself, headers handed to writeHead.
      ctx.respond = false;
      ctx.res.writeHead(201, { 'X-Frame-Options': 'SAMEORIGIN', 'X-Powered-By': 'Express' });
      ctx.res.end('raw');
      return;
    }
    ctx.set('Set-Cookie', ['a=1']);
    ctx.body = JSON.stringify({
      added: Buffer.from(ctx.get('X-Added'), 'latin1').toString('utf8'),
      cookie: ctx.get('Cookie'),
      gone: ctx.get('X-Gone'),
      raw: ctx.req.rawHeaders.filter((_, i) => i % 2 === 0),
      environment: requestState(ctx).environment,
    });
  });
  return app;
}

test('alone in a Koa app: request headers, environment, and response headers on every answer', async (t) => {
  const served = await serve(koaApp());
  t.teardown(() => served.close());
  const client = { Cookie: 'a=1', 'X-Gone': 'x', 'X-Powered-By': 'client' };

  const page = await rawRequest(served.port, '/page', client);
  t.is(page.status, 200);
  t.deepEqual(JSON.parse(page.body.toString()), {
    added: 'crème',
    cookie: 'a=1; b=2',
    gone: '',
    raw: ['Host', 'Connection', 'Cookie', 'X-Powered-By', 'X-Added'],
    environment: [['APP_ENV', 'test']],
  });
  t.deepEqual(
    page.headerLines.filter((line) => /^(set-cookie|x-frame-options|cache-control):/i.test(line)),
    ['Set-Cookie: a=1', 'Set-Cookie: b=2', 'X-Frame-Options: DENY', 'Cache-Control: no-store'],
  );

  const error = await rawRequest(served.port, '/throw');
  t.is(error.status, 404);
  t.regex(error.body.toString(), /<h1>404 Not Found<\/h1>/);
  t.is(error.headers['x-frame-options'], 'DENY');
  t.is(error.headers['cache-control'], 'no-store');

  const raw = await rawRequest(served.port, '/raw');
  t.is(raw.status, 201);
  t.is(raw.body.toString(), 'raw');
  t.deepEqual(
    raw.headerLines.filter((line) => /^x-frame-options:/i.test(line)),
    ['X-Frame-Options: SAMEORIGIN', 'X-Frame-Options: DENY'],
  );
  t.false('x-powered-by' in raw.headers);
});

test('options that would fail every request are refused when the middleware is made', (t) => {
  const refused = (options: Parameters<typeof setenv>[0], code: string, option: string) => {
    const error = t.throws(() => setenv(options), { instanceOf: OptionError });
    t.is(error.code, code);
    t.is(error.option, option);
  };
  refused(
    { addResponseHeaders: { 'X-A': 'one\r\nX-Injected: two' } },
    'ERR_SETENV_HEADER_VALUE',
    'addResponseHeaders',
  );
  refused({ setRequestHeaders: { 'X-A': 'a\nb' } }, 'ERR_SETENV_HEADER_VALUE', 'setRequestHeaders');
  refused({ addRequestHeaders: { 'Bad Name': 'x' } }, 'ERR_SETENV_HEADER_NAME', 'addRequestHeaders');
  refused({ setResponseHeaders: { 'Content-Length': '5' } }, 'ERR_SETENV_FRAMING', 'setResponseHeaders');
  refused(
    { addRequestHeaders: { 'transfer-encoding': 'chunked' } },
    'ERR_SETENV_FRAMING',
    'addRequestHeaders',
  );
  refused({ setEnvironment: { '': 'x' } }, 'ERR_SETENV_VARIABLE', 'setEnvironment');
  t.notThrows(() => setenv({ addEnvironment: { MULTI: 'line\none' } }));
});

function confFile(name: string, text: string): string {
  const file = join(root, name);
  writeFileSync(file, `server.document-root = "${root}"\nserver.modules = ("mod_setenv")\n${text}`);
  return file;
}

test('a wrong setenv.* value is a ConfigError at its line', (t) => {
  const cases: Array<[string, RegExp]> = [
    ['setenv.add-response-header = ("X-A" => 1)', /list of key => string values/],
    ['setenv.set-request-header = ("X-A")', /list of key => string values/],
    ['setenv.add-environment = "X"', /list of key => string values/],
    ['setenv.add-response-header = ("X-A" => "1", "x-a" => "2")', /duplicate array-key: x-a/],
    [
      '$HTTP["url"] =^ "/x/" {\n  setenv.set-response-header = ("Content-Length" => "1")\n}',
      /frames the message/,
    ],
    ['setenv.add-request-header = ("X A" => "1")', /is not a header name/],
  ];
  for (const [index, [text, reason]] of cases.entries()) {
    const file = confFile(`bad-${index}.conf`, `\n${text}\n`);
    const error = t.throws(() => loadConfig(file), { instanceOf: ConfigError }, text);
    t.is(error.file, file, text);
    t.is(error.line, text.startsWith('$HTTP') ? 5 : 4, text);
    t.regex(error.message, reason, text);
  }
});

test('a header value over several lines: a line end after a comma is a space (lighttpd), any other is mended with a warning', async (t) => {
  const file = confFile(
    'folded.conf',
    'setenv.add-response-header = ("X-List" => "a,\n  b", "X-Policy" => "default-src \'self\';\n  img-src *")\n',
  );
  const loaded = loadConfig(file);
  t.deepEqual(loaded.warnings, [
    `mod_setenv: ${file}:3: setenv.add-response-header: X-Policy holds a line break, invalid in a header: each one is sent as a space`,
  ]);
  const lighty = createApp(loaded, { log: memoryLogger() });
  const served = await serve(lighty.app);
  t.teardown(() => served.close());
  const answer = await rawRequest(served.port, '/missing');
  t.is(answer.status, 404);
  t.is(answer.headers['x-list'], 'a,   b');
  t.is(answer.headers['x-policy'], "default-src 'self';   img-src *");
});

test('secdownload answers carry the headers: the file, a wrong MAC (403), an expired link (410)', async (t) => {
  const docroot = join(root, 'secdl-www');
  const protectedRoot = join(root, 'secdl-files');
  mkdirSync(docroot, { recursive: true });
  mkdirSync(protectedRoot, { recursive: true });
  writeFileSync(join(protectedRoot, 'a.txt'), 'protected\n');
  const file = join(root, 'secdl.conf');
  writeFileSync(
    file,
    `server.document-root = "${docroot}"
server.modules = ("mod_setenv", "mod_secdownload")
mimetype.assign = (".txt" => "text/plain")
secdownload.secret = "s3cret"
secdownload.document-root = "${protectedRoot}"
secdownload.uri-prefix = "/dl/"
secdownload.algorithm = "hmac-sha256"
secdownload.timeout = 60
$HTTP["url"] =^ "/dl/" {
  setenv.add-response-header = ("X-Download" => "yes")
}
`,
  );
  const lighty = createApp(loadConfig(file), { log: memoryLogger() });
  const served = await serve(lighty.app);
  t.teardown(() => served.close());
  const link = (timestamp?: number) =>
    secdownloadUrl({
      secret: 's3cret',
      uriPrefix: '/dl/',
      algorithm: 'hmac-sha256',
      path: '/a.txt',
      timestamp,
    });

  const ok = await rawRequest(served.port, link());
  t.is(ok.status, 200);
  t.is(ok.body.toString(), 'protected\n');
  t.is(ok.headers['x-download'], 'yes');

  const wrong = link().replace(/\/dl\/(.)/, (_, c: string) => `/dl/${c === 'A' ? 'B' : 'A'}`);
  const forbidden = await rawRequest(served.port, wrong);
  t.is(forbidden.status, 403);
  t.is(forbidden.headers['x-download'], 'yes');

  const gone = await rawRequest(served.port, link(Math.floor(Date.now() / 1000) - 3600));
  t.is(gone.status, 410);
  t.is(gone.headers['x-download'], 'yes');

  const etag = ok.headers['etag']!;
  const cached = await rawRequest(served.port, link(), { 'If-None-Match': etag });
  t.is(cached.status, 304);
  t.is(cached.headers['x-download'], 'yes');
});
