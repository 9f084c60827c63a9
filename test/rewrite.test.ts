/**
 * rewrite() alone in a Koa app, in front of fastcgi() (a spawned php-cgi) and staticFiles():
 * a front controller gets pretty URLs with REQUEST_URI as sent, existing files are served,
 * accessDeny mounted in front still guards the rewritten file, `%n` comes from
 * conditionMatch, a repeat loop is a 500, and bad options are refused when it is made. And,
 * through a lighttpd.conf, what secdownload and trigger-before-download see after a rewrite.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import Koa from 'koa';
import {
  accessDeny,
  ConfigError,
  createApp,
  fastcgi,
  lighttpdErrors,
  loadConfig,
  memoryLogger,
  OptionError,
  rewrite,
  secdownloadUrl,
  staticFiles,
} from '../src/index.js';
import { rawExchange, rawRequest, serve } from './helpers/http.js';

const root = mkdtempSync(join(tmpdir(), 'koa-lighty-rewrite-koa-'));
const documentRoot = join(root, 'www');
mkdirSync(join(documentRoot, 'assets'), { recursive: true });
writeFileSync(
  join(documentRoot, 'index.php'),
  `<?php header('Content-Type: text/plain');
foreach (['REQUEST_URI', 'QUERY_STRING', 'REDIRECT_URI', 'SCRIPT_NAME', 'PATH_INFO'] as $k)
  echo $k, '=', $_SERVER[$k] ?? '(unset)', "\\n";`,
);
writeFileSync(join(documentRoot, 'assets/app.css'), 'body {}\n');
writeFileSync(join(documentRoot, 'secret.inc'), 'secret\n');

const log = memoryLogger();
const php = fastcgi({
  documentRoot,
  indexFiles: ['index.php'],
  log,
  backends: [{ key: '.php', hosts: [{ binPath: '/usr/bin/php-cgi', socket: join(root, 'php.sock') }] }],
});
let port: number;
let close: () => Promise<void>;

test.before(async () => {
  await php.ready();
  const app = new Koa();
  app.silent = true;
  app.use(lighttpdErrors({ log }));
  app.use(accessDeny({ deny: ['.inc'] }));
  app.use(
    rewrite({
      once: [['^/old/(.*)$', '/secret.inc'], { match: /^\/host\/(.*)$/, target: '/index.php?sub=%1&p=$1' }],
      repeat: [['^/loop(.*)$', '/loop$1']],
      ifNotFile: [['', `/index.php\${url.path}\${qsa}`]],
      documentRoot,
      conditionMatch: (ctx) => /^([^.]+)\./.exec(ctx.get('Host')) ?? undefined,
    }),
  );
  app.use(php);
  app.use(staticFiles({ documentRoot }));
  const server = await serve(app);
  port = server.port;
  close = server.close;
});
test.after.always(async () => {
  await close?.();
  await php.close();
  rmSync(root, { recursive: true, force: true });
});

test('a pretty URL reaches the front controller with REQUEST_URI and QUERY_STRING as sent', async (t) => {
  const res = await rawRequest(port, '/some/pretty/path?x=1');
  t.is(res.status, 200);
  t.is(
    res.body.toString(),
    'REQUEST_URI=/some/pretty/path?x=1\nQUERY_STRING=x=1\nREDIRECT_URI=/index.php/some/pretty/path?x=1\n' +
      'SCRIPT_NAME=/index.php\nPATH_INFO=/some/pretty/path\n',
  );
});

test('an existing file is served as it is', async (t) => {
  const res = await rawRequest(port, '/assets/app.css');
  t.is(res.status, 200);
  t.is(res.body.toString(), 'body {}\n');
});

test('accessDeny in front still refuses the file a rule rewrites to', async (t) => {
  t.is((await rawRequest(port, '/old/page')).status, 403);
});

test('%1 is what conditionMatch captured (here from the Host)', async (t) => {
  const head = 'GET /host/a%20b HTTP/1.1\r\nHost: blog.example.org\r\nConnection: close\r\n\r\n';
  const res = await rawExchange(port, Buffer.from(head));
  t.regex(res.body.toString(), /^QUERY_STRING=sub=blog&p=a%20b$/m);
});

test('a repeat rule that never stops is a 500 with lighttpd’s log line', async (t) => {
  const res = await rawRequest(port, '/loop/x');
  t.is(res.status, 500);
  t.true(log.lines.some((line) => line.includes('ENDLESS LOOP IN rewrite-rule DETECTED')));
});

test('bad options are refused when the middleware is made', (t) => {
  const badRegex = t.throws(() => rewrite({ once: [['^/(a', '/b']] }), { instanceOf: OptionError });
  t.is(badRegex?.option, 'once');
  const noRoot = t.throws(() => rewrite({ ifNotFile: [['^/', '/index.php']] }), { instanceOf: OptionError });
  t.is(noRoot?.option, 'documentRoot');
  t.throws(() => rewrite({ repeat: [[`^/${'(a)'.repeat(20)}`, '/x']] }), { message: /too many captures/ });
});

test('in a lighttpd.conf, a rule that does not compile refuses to start, naming the file and line', (t) => {
  const conf = join(root, 'bad.conf');
  const write = (rules: string) =>
    writeFileSync(
      conf,
      `server.modules = ("mod_rewrite")\nserver.document-root = "${documentRoot}"\n${rules}\n`,
    );
  write('$HTTP["host"] == "x" {\n  url.rewrite-once = ( "^/(a" => "/b" )\n}');
  t.throws(() => loadConfig(conf), {
    instanceOf: ConfigError,
    message: /bad\.conf:4: url\.rewrite-once: invalid regex/,
  });
  write(`url.rewrite-if-not-file = ( "^/${'(x)'.repeat(20)}" => "/y" )`);
  t.throws(() => loadConfig(conf), { message: /bad\.conf:3: url\.rewrite-if-not-file: too many captures/ });
});

test('in a lighttpd.conf, secdownload and trigger-before-download see the rewritten path', async (t) => {
  const area = join(root, 'area');
  mkdirSync(area, { recursive: true });
  writeFileSync(join(area, 'a.txt'), 'signed file\n');
  const conf = join(root, 'stages.conf');
  writeFileSync(
    conf,
    [
      'server.modules = ("mod_rewrite", "mod_trigger_b4_dl", "mod_secdownload")',
      `server.document-root = "${documentRoot}"`,
      'url.rewrite-once = ( "^/get/(.*)$" => "/dl/$1", "^/video/(.*)$" => "/media/$1.mpg" )',
      'secdownload.secret = "verysecret"',
      `secdownload.document-root = "${area}"`,
      'secdownload.uri-prefix = "/dl/"',
      'secdownload.algorithm = "hmac-sha256"',
      'trigger-before-download.memory-store = "enable"',
      'trigger-before-download.trigger-url = "^/index[.]php$"',
      'trigger-before-download.download-url = "[.]mpg$"',
      'trigger-before-download.deny-url = "http://example.org/visit-first"',
      '',
    ].join('\n'),
  );
  const lighty = createApp(loadConfig(conf), { log: memoryLogger() });
  t.teardown(() => lighty.close());
  const served = await serve(lighty.app);
  t.teardown(() => served.close());
  const link = secdownloadUrl({
    secret: 'verysecret',
    uriPrefix: '/dl/',
    algorithm: 'hmac-sha256',
    path: '/a.txt',
  });
  const signed = await rawRequest(served.port, link.replace(/^\/dl\//, '/get/'));
  t.is(signed.status, 200);
  t.is(signed.body.toString(), 'signed file\n');
  const forged = link.replace(/^\/dl\/./, (s) => `/get/${s.endsWith('A') ? 'B' : 'A'}`);
  t.is((await rawRequest(served.port, forged)).status, 403);
  const video = await rawRequest(served.port, '/video/intro');
  t.is(video.status, 307);
  t.is(video.headers.location, 'http://example.org/visit-first');
});
