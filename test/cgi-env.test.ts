import test from 'ava';
import Koa from 'koa';
import { buildCgiParams, type CgiParamsOptions, headerVariables } from '../src/middleware/cgi-env.js';
import { rawExchange, rawRequest, serve } from './helpers/http.js';

/** An app that answers with the params buildCgiParams makes for the request, as JSON pairs. */
async function paramsServer(t: import('ava').ExecutionContext, options: Partial<CgiParamsOptions> = {}) {
  const app = new Koa();
  app.use((ctx) => {
    try {
      const params = buildCgiParams(ctx, {
        scriptName: '/index.php',
        pathInfo: '',
        scriptFilename: '/srv/www/index.php',
        documentRoot: '/srv/www',
        serverTag: 'koa-lighty',
        contentLength: 0,
        ...options,
      });
      ctx.body = params;
    } catch (err) {
      ctx.status = (err as { status?: number }).status ?? 500;
      ctx.body = (err as Error).message;
    }
  });
  const server = await serve(app);
  t.teardown(server.close);
  const get = async (path: string, headers: Record<string, string> = {}) => {
    const res = await rawRequest(server.port, path, headers);
    return { res, pairs: res.status === 200 ? (JSON.parse(res.body.toString()) as [string, string][]) : [] };
  };
  return { server, get };
}

const names = (pairs: [string, string][]) => pairs.map(([n]) => n);
const lookup = (pairs: [string, string][], name: string) => pairs.find(([n]) => n === name)?.[1];

test('params come in lighttpd order, PATH_INFO and PATH_TRANSLATED only with path-info', async (t) => {
  const { get, server } = await paramsServer(t);
  const { pairs } = await get('/index.php?a=1', { 'User-Agent': 'ua' });
  t.deepEqual(names(pairs).slice(0, 20), [
    'CONTENT_LENGTH',
    'QUERY_STRING',
    'REQUEST_URI',
    'REDIRECT_STATUS',
    'SCRIPT_NAME',
    'SCRIPT_FILENAME',
    'DOCUMENT_ROOT',
    'REQUEST_METHOD',
    'SERVER_PROTOCOL',
    'SERVER_SOFTWARE',
    'GATEWAY_INTERFACE',
    'REQUEST_SCHEME',
    'SERVER_PORT',
    'SERVER_ADDR',
    'SERVER_NAME',
    'REMOTE_ADDR',
    'REMOTE_PORT',
    'HTTP_HOST',
    'HTTP_CONNECTION',
    'HTTP_USER_AGENT',
  ]);
  t.is(lookup(pairs, 'CONTENT_LENGTH'), '0');
  t.is(lookup(pairs, 'QUERY_STRING'), 'a=1');
  t.is(lookup(pairs, 'REQUEST_URI'), '/index.php?a=1');
  t.is(lookup(pairs, 'REDIRECT_STATUS'), '200');
  t.is(lookup(pairs, 'GATEWAY_INTERFACE'), 'CGI/1.1');
  t.is(lookup(pairs, 'SERVER_PROTOCOL'), 'HTTP/1.1');
  t.is(lookup(pairs, 'SERVER_SOFTWARE'), 'koa-lighty');
  t.is(lookup(pairs, 'REQUEST_SCHEME'), 'http');
  t.is(lookup(pairs, 'HTTPS'), undefined);
  t.is(lookup(pairs, 'SERVER_PORT'), String(server.port));
  t.is(lookup(pairs, 'SERVER_ADDR'), '127.0.0.1');
  t.is(lookup(pairs, 'SERVER_NAME'), '127.0.0.1');
  t.is(lookup(pairs, 'REMOTE_ADDR'), '127.0.0.1');
  t.regex(lookup(pairs, 'REMOTE_PORT') ?? '', /^\d+$/);
  t.is(lookup(pairs, 'PATH_INFO'), undefined);
  t.is(lookup(pairs, 'PATH_TRANSLATED'), undefined);
  t.is(lookup(pairs, 'SCRIPT_FILENAME'), '/srv/www/index.php');
  t.is(lookup(pairs, 'DOCUMENT_ROOT'), '/srv/www');
});

test('PATH_INFO and PATH_TRANSLATED follow SCRIPT_NAME', async (t) => {
  const { get } = await paramsServer(t, { pathInfo: '/extra/path' });
  const { pairs } = await get('/index.php/extra/path');
  const at = names(pairs).indexOf('SCRIPT_NAME');
  t.deepEqual(pairs.slice(at, at + 4), [
    ['SCRIPT_NAME', '/index.php'],
    ['PATH_INFO', '/extra/path'],
    ['PATH_TRANSLATED', '/srv/www/extra/path'],
    ['SCRIPT_FILENAME', '/srv/www/index.php'],
  ]);
});

test('the docroot option rebases SCRIPT_FILENAME, PATH_TRANSLATED and DOCUMENT_ROOT', async (t) => {
  const { get } = await paramsServer(t, { pathInfo: '/x', docrootOption: '/remote/root/' });
  const { pairs } = await get('/index.php/x');
  t.is(lookup(pairs, 'SCRIPT_FILENAME'), '/remote/root/index.php');
  t.is(lookup(pairs, 'PATH_TRANSLATED'), '/remote/root/x');
  t.is(lookup(pairs, 'DOCUMENT_ROOT'), '/remote/root');
});

test('broken-scriptfilename appends PATH_INFO, or a lone slash without one (lighttpd quirk)', async (t) => {
  const withInfo = await paramsServer(t, { pathInfo: '/a/b', brokenScriptfilename: true });
  t.is(lookup((await withInfo.get('/index.php/a/b')).pairs, 'SCRIPT_FILENAME'), '/srv/www/index.php/a/b');
  const without = await paramsServer(t, { brokenScriptfilename: true });
  t.is(lookup((await without.get('/index.php')).pairs, 'SCRIPT_FILENAME'), '/srv/www/index.php/');
});

test('strip-request-uri removes the prefix only when a slash follows it', async (t) => {
  const { get } = await paramsServer(t, { stripRequestUri: '/strip/' });
  t.is(lookup((await get('/strip/index/list?q')).pairs, 'REQUEST_URI'), '/index/list?q');
  t.is(lookup((await get('/stripx/list')).pairs, 'REQUEST_URI'), '/stripx/list');
});

test('REQUEST_URI is the target as received; REDIRECT_URI appears only when normalisation changed it', async (t) => {
  const { get } = await paramsServer(t);
  const plain = (await get('/a%20b/index.php?x=1')).pairs;
  t.is(lookup(plain, 'REQUEST_URI'), '/a%20b/index.php?x=1');
  t.is(lookup(plain, 'REDIRECT_URI'), undefined);

  const changed = (await get('/sub/../index.php?x=%41')).pairs;
  t.is(lookup(changed, 'REQUEST_URI'), '/sub/../index.php?x=%41');
  t.is(lookup(changed, 'REDIRECT_URI'), '/index.php?x=A');
  t.is(lookup(changed, 'QUERY_STRING'), 'x=A');
  t.deepEqual(names(changed).slice(2, 5), ['REQUEST_URI', 'REDIRECT_URI', 'REDIRECT_STATUS']);
});

test('request headers become HTTP_*: upper-cased, non-alphanumerics as _, repeats joined', async (t) => {
  const { server } = await paramsServer(t);
  const res = await rawExchange(
    server.port,
    Buffer.from(
      'POST /index.php HTTP/1.1\r\nHost: example.org:8080\r\nX-Multi: one\r\nContent-Type: text/plain\r\n' +
        'x.dotted~name: dots\r\nX-Multi: two\r\nX-Empty:\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc',
    ),
  );
  const pairs = JSON.parse(res.body.toString()) as [string, string][];
  t.is(lookup(pairs, 'HTTP_HOST'), 'example.org:8080');
  t.is(lookup(pairs, 'SERVER_NAME'), 'example.org');
  t.is(lookup(pairs, 'HTTP_X_MULTI'), 'one, two');
  t.is(lookup(pairs, 'CONTENT_TYPE'), 'text/plain');
  t.is(lookup(pairs, 'HTTP_CONTENT_TYPE'), undefined);
  t.is(lookup(pairs, 'HTTP_X_DOTTED_NAME'), 'dots');
  t.is(lookup(pairs, 'HTTP_CONTENT_LENGTH'), '3');
  t.is(lookup(pairs, 'HTTP_X_EMPTY'), undefined);
  t.is(lookup(pairs, 'REQUEST_METHOD'), 'POST');
  // Only the headers that were sent, in the order they were sent.
  t.deepEqual(
    names(pairs).filter((n) => n.startsWith('HTTP_') || n === 'CONTENT_TYPE'),
    [
      'HTTP_HOST',
      'HTTP_X_MULTI',
      'CONTENT_TYPE',
      'HTTP_X_DOTTED_NAME',
      'HTTP_CONTENT_LENGTH',
      'HTTP_CONNECTION',
    ],
  );
});

test('SERVER_NAME keeps a bracketed IPv6 host without its port', async (t) => {
  const { server } = await paramsServer(t);
  const res = await rawExchange(
    server.port,
    Buffer.from('GET /index.php HTTP/1.1\r\nHost: [::1]:8080\r\nConnection: close\r\n\r\n'),
  );
  t.is(lookup(JSON.parse(res.body.toString()), 'SERVER_NAME'), '[::1]');
});

test('httpoxy: a Proxy header never reaches the backend, in any spelling', async (t) => {
  const { get } = await paramsServer(t);
  const { pairs } = await get('/index.php', { Proxy: 'http://evil:1', PROXY: 'http://evil:2' });
  t.false(names(pairs).some((n) => n.includes('PROXY')));
});

test('X-Sendfile-Type and X-Accel-Mapping from the client are dropped', async (t) => {
  const { get } = await paramsServer(t);
  const { pairs } = await get('/index.php', {
    'X-Sendfile-Type': 'X-Sendfile',
    'X-Accel-Mapping': '/=/etc/',
    'X-Sendfile-Other': 'kept',
  });
  t.is(lookup(pairs, 'HTTP_X_SENDFILE_TYPE'), undefined);
  t.is(lookup(pairs, 'HTTP_X_ACCEL_MAPPING'), undefined);
  t.is(lookup(pairs, 'HTTP_X_SENDFILE_OTHER'), 'kept');
});

test('headers that collide after -→_ are passed once, the plain spelling winning', async (t) => {
  const { get } = await paramsServer(t);
  const { pairs } = await get('/index.php', { X_Forwarded_For: '6.6.6.6', 'X-Forwarded-For': '10.0.0.1' });
  t.deepEqual(
    pairs.filter(([n]) => n === 'HTTP_X_FORWARDED_FOR'),
    [['HTTP_X_FORWARDED_FOR', '10.0.0.1']],
  );
  // Two odd spellings: the first one sent wins, the second is not passed at all.
  t.deepEqual(headerVariables(['X.Y', 'first', 'X_Y', 'second']), [['HTTP_X_Y', 'first']]);
  // A header spelled like a CGI variable still lands under HTTP_.
  t.deepEqual(headerVariables(['SCRIPT_FILENAME', '/etc/passwd', 'Path-Info', '/x']), [
    ['HTTP_SCRIPT_FILENAME', '/etc/passwd'],
    ['HTTP_PATH_INFO', '/x'],
  ]);
});

test('control characters in PATH_INFO are refused (CVE-2019-11043), encoded or not', async (t) => {
  const { get } = await paramsServer(t, { pathInfo: '/a\nb' });
  const { res } = await get('/index.php/a');
  t.is(res.status, 400);
  // Through the request path itself: the normalisation refuses %0a before any stage.
  const plain = await paramsServer(t);
  const encoded = await plain.get('/index.php/%0a');
  t.is(encoded.res.status, 400);
});

test('CONTENT_LENGTH is the body length that will be sent', async (t) => {
  const { get } = await paramsServer(t, { contentLength: 1234 });
  t.is(lookup((await get('/index.php')).pairs, 'CONTENT_LENGTH'), '1234');
});

test('HTTPS and REQUEST_SCHEME follow Koa: a trusted proxy saying https is believed', async (t) => {
  const app = new Koa({ proxy: true });
  app.use((ctx) => {
    ctx.body = buildCgiParams(ctx, {
      scriptName: '/i.php',
      pathInfo: '',
      scriptFilename: '/r/i.php',
      documentRoot: '/r',
      serverTag: '',
      contentLength: 0,
    });
  });
  const server = await serve(app);
  t.teardown(server.close);
  const res = await rawRequest(server.port, '/i.php', {
    'X-Forwarded-Proto': 'https',
    'X-Forwarded-For': '192.0.2.7',
  });
  const pairs = JSON.parse(res.body.toString()) as [string, string][];
  t.is(lookup(pairs, 'REQUEST_SCHEME'), 'https');
  t.is(lookup(pairs, 'HTTPS'), 'on');
  t.is(lookup(pairs, 'REMOTE_ADDR'), '192.0.2.7');
  t.is(lookup(pairs, 'SERVER_SOFTWARE'), '');
  t.deepEqual(
    names(pairs).slice(names(pairs).indexOf('REQUEST_SCHEME'), names(pairs).indexOf('REQUEST_SCHEME') + 3),
    ['REQUEST_SCHEME', 'HTTPS', 'SERVER_PORT'],
  );
});
