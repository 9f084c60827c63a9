import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import Koa from 'koa';
import { encodeRecord, RecordType } from '../src/fastcgi/records.js';
import { memoryLogger } from '../src/log.js';
import { type FastCgiKey, type FastCgiOptions, fastcgi } from '../src/middleware/fastcgi.js';
import { PHP_FIXTURES } from './fastcgi-middleware-app.js';
import { FakePeer, startFakeFastCgi } from './helpers/fake-fastcgi.js';
import { rawRequest, serve } from './helpers/http.js';
import { canConnect } from './helpers/php-cgi.js';
import { deadPort } from './helpers/ports.js';

/**
 * Which key takes a request and what the backend is told (spec 3.2, 3.3), failures of the
 * backend (3.4, 3.5), and the middleware's life cycle. The backends here are scripted
 * FastCGI servers that answer with the params they received.
 */
const DOCROOT = PHP_FIXTURES.replace(/\/$/, '');

async function paramsEcho(t: ExecutionContext, name = 'echo') {
  const server = await startFakeFastCgi(async (peer) => {
    for (let req = await peer.request(); req; req = await peer.request()) {
      const params = Object.fromEntries(req.params);
      peer.write(
        FakePeer.answer(
          `Content-Type: application/json\r\nX-Backend: ${name}\r\n\r\n${JSON.stringify(params)}`,
        ),
      );
    }
  });
  t.teardown(() => server.close());
  return server.address;
}

async function site(t: ExecutionContext, backends: FastCgiKey[], extra: Partial<FastCgiOptions> = {}) {
  const log = memoryLogger();
  const mw = fastcgi({ documentRoot: DOCROOT, backends, log, ...extra });
  await mw.ready();
  t.teardown(() => mw.close());
  const app = new Koa();
  app.silent = true;
  app.use(mw);
  app.use((ctx) => {
    ctx.body = 'downstream';
  });
  const server = await serve(app);
  t.teardown(() => server.close());
  const get = async (path: string) => {
    const res = await rawRequest(server.port, path);
    const params =
      res.headers['content-type'] === 'application/json' ? JSON.parse(res.body.toString('utf8')) : {};
    return { res, params: params as Record<string, string> };
  };
  return { get, log, port: server.port };
}

test('a /prefix key without check-local splits SCRIPT_NAME at the first slash after the prefix', async (t) => {
  const echo = await paramsEcho(t);
  const { get } = await site(t, [{ key: '/echo', hosts: [{ ...echo, checkLocal: false }] }]);
  const deep = (await get('/echo/foo/bar?x=1')).params;
  t.is(deep.SCRIPT_NAME, '/echo');
  t.is(deep.PATH_INFO, '/foo/bar');
  t.is(deep.SCRIPT_FILENAME, `${DOCROOT}/echo`);
  t.is(deep.PATH_TRANSLATED, `${DOCROOT}/foo/bar`);
  t.is(deep.REQUEST_URI, '/echo/foo/bar?x=1');
  // A plain byte prefix: /echoes matches /echo.
  const echoes = (await get('/echoes/x')).params;
  t.is(echoes.SCRIPT_NAME, '/echoes');
  t.is(echoes.PATH_INFO, '/x');
  const bare = (await get('/echo')).params;
  t.is(bare.SCRIPT_NAME, '/echo');
  t.false('PATH_INFO' in bare);
  t.is((await get('/other')).res.body.toString(), 'downstream');
});

test('key / splits after the first segment; with fix-root-scriptname SCRIPT_NAME is empty', async (t) => {
  const echo = await paramsEcho(t);
  const plain = await site(t, [{ key: '/', hosts: [{ ...echo, checkLocal: false }] }]);
  const split = (await plain.get('/cgi-bin/foo/bar')).params;
  t.is(split.SCRIPT_NAME, '/cgi-bin');
  t.is(split.PATH_INFO, '/foo/bar');
  const fixed = await site(t, [
    { key: '/', hosts: [{ ...echo, checkLocal: false, fixRootScriptname: true }] },
  ]);
  const whole = (await fixed.get('/cgi-bin/foo/bar')).params;
  t.is(whole.SCRIPT_NAME, '');
  t.is(whole.PATH_INFO, '/cgi-bin/foo/bar');
});

test('strip-request-uri and the docroot option change what the backend is told', async (t) => {
  const echo = await paramsEcho(t);
  const { get } = await site(t, [
    {
      key: '/strip',
      hosts: [{ ...echo, checkLocal: false, stripRequestUri: '/strip/', docroot: '/remote/www' }],
    },
  ]);
  const params = (await get('/strip/index/list?q')).params;
  t.is(params.REQUEST_URI, '/index/list?q');
  t.is(params.SCRIPT_FILENAME, '/remote/www/strip');
  t.is(params.DOCUMENT_ROOT, '/remote/www');
});

test('keys are tried in configured order, first match wins; extensions are case-sensitive', async (t) => {
  const first = await paramsEcho(t, 'first');
  const second = await paramsEcho(t, 'second');
  const { get } = await site(t, [
    { key: '/mw-', hosts: [{ ...first, checkLocal: false }] },
    { key: '.php', hosts: [{ ...second }] },
  ]);
  t.is((await get('/mw-echo.php')).res.headers['x-backend'], 'first');
  t.is((await get('/fcgi-echo.php')).res.headers['x-backend'], 'second');
  t.is((await get('/fcgi-echo.PHP')).res.body.toString(), 'downstream');
});

test('a non-PHP file followed by /x.php never goes to the backend (the php-fpm upload trick)', async (t) => {
  const echo = await paramsEcho(t);
  const { get } = await site(t, [{ key: '.php', hosts: [echo] }]);
  // mw-mapped.php3 exists; "/x.php" would only be PATH_INFO: the script is not a .php file.
  const res = await get('/mw-mapped.php3/x.php');
  t.is(res.res.body.toString(), 'downstream');
  t.false('x-backend' in res.res.headers);
  // The real script with PATH_INFO does go.
  t.is((await get('/mw-echo.php/x.php')).params.PATH_INFO, '/x.php');
});

test('a script path in UTF-8 reaches the backend as UTF-8', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'koa-lighty-utf8-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  writeFileSync(join(root, 'café.php'), '');
  const echo = await paramsEcho(t);
  const { get } = await site(t, [{ key: '.php', hosts: [echo] }], { documentRoot: root });
  const { params } = await get('/caf%C3%A9.php/%C3%BC');
  t.is(params.SCRIPT_NAME, '/café.php');
  t.is(params.SCRIPT_FILENAME, `${root}/café.php`);
  t.is(params.PATH_INFO, '/ü');
});

test('no live host: 503, and within disable-time even a missing script is 503 (spec 3.2)', async (t) => {
  const { get, log } = await site(t, [
    { key: '.php', hosts: [{ host: '127.0.0.1', port: await deadPort(t), disableTime: 5 }] },
  ]);
  const first = await get('/mw-echo.php');
  t.is(first.res.status, 503);
  t.regex(first.res.body.toString(), /503 Service Unavailable/);
  t.is((await get('/missing.php')).res.status, 503);
  t.true(log.lines.some((line) => line.includes('disabled')));
});

test('a dead host next to a live one: every request is answered by the live one', async (t) => {
  const echo = await paramsEcho(t, 'alive');
  const { get } = await site(
    t,
    [{ key: '.php', hosts: [{ host: '127.0.0.1', port: await deadPort(t) }, echo] }],
    {
      balance: 'round-robin',
    },
  );
  for (let i = 0; i < 4; i++) t.is((await get('/mw-echo.php')).res.headers['x-backend'], 'alive');
});

test('backend failures: garbage, bad headers and a close before the headers are 502, never a crash', async (t) => {
  const scripts: Record<string, (peer: FakePeer) => Promise<void>> = {
    '/garbage.php': async (peer) => {
      await peer.request();
      peer.write(Buffer.from('HTTP/1.1 200 OK\r\n\r\nnot fastcgi at all'));
    },
    '/no-colon.php': async (peer) => {
      await peer.request();
      peer.write(FakePeer.answer('this is not a header\r\n\r\nbody'));
    },
    '/bad-status.php': async (peer) => {
      await peer.request();
      peer.write(FakePeer.answer('Status: abc\r\n\r\nbody'));
    },
    '/interim.php': async (peer) => {
      await peer.request();
      peer.write(FakePeer.answer('Status: 100\r\n\r\nbody'));
    },
    '/closes.php': async (peer) => {
      await peer.request();
      peer.close();
    },
  };
  const keys: FastCgiKey[] = [];
  for (const [path, script] of Object.entries(scripts)) {
    const server = await startFakeFastCgi(script);
    t.teardown(() => server.close());
    keys.push({ key: path, hosts: [{ ...server.address, checkLocal: false }] });
  }
  const { get, log } = await site(t, keys);
  t.is((await get('/garbage.php')).res.status, 502);
  t.is((await get('/no-colon.php')).res.status, 502);
  t.is((await get('/bad-status.php')).res.status, 502);
  t.is((await get('/interim.php')).res.status, 502);
  const closed = await get('/closes.php');
  t.is(closed.res.status, 502);
  t.regex(closed.res.body.toString(), /<title>502 Bad Gateway<\/title>/);
  t.true(log.lines.length >= 5);
});

test('a backend that dies in the middle of its body: the client connection is cut, not completed', async (t) => {
  const server = await startFakeFastCgi(async (peer) => {
    await peer.request();
    const head = Buffer.from('Content-Type: text/plain\r\n\r\n');
    peer.write(encodeRecord(RecordType.STDOUT, 1, Buffer.concat([head, Buffer.alloc(65_000, 'a')])));
    peer.write(encodeRecord(RecordType.STDOUT, 1, Buffer.alloc(65_000, 'b')));
    await new Promise((resolve) => setTimeout(resolve, 50));
    peer.close();
  });
  t.teardown(() => server.close());
  const { port, log } = await site(t, [{ key: '/cut', hosts: [{ ...server.address, checkLocal: false }] }]);
  const raw = await new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.write('GET /cut HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  });
  t.true(raw.startsWith('HTTP/1.1 200 '));
  t.regex(raw, /\r\ntransfer-encoding: chunked\r\n/i);
  // Everything the backend sent arrived, but never the last chunk that would say "complete".
  t.true(raw.length > 130_000, `${raw.length} bytes`);
  t.false(raw.endsWith('\r\n0\r\n\r\n'));
  t.true(log.lines.some((line) => line.includes('cut')));
});

test('the obsolete application/javascript type is sent as text/javascript (lighttpd quirk)', async (t) => {
  const server = await startFakeFastCgi(async (peer) => {
    await peer.request();
    peer.write(FakePeer.answer('Content-Type: application/javascript; charset=utf-8\r\n\r\nalert(1)'));
  });
  t.teardown(() => server.close());
  const { get } = await site(t, [{ key: '/js', hosts: [{ ...server.address, checkLocal: false }] }]);
  t.is((await get('/js')).res.headers['content-type'], 'text/javascript; charset=utf-8');
});

test('ready() spawns php-cgi from binPath, close() stops it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'koa-lighty-spawn-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const socket = join(dir, 'php.sock');
  const mw = fastcgi({
    documentRoot: DOCROOT,
    log: memoryLogger(),
    backends: [{ key: '.php', hosts: [{ socket, binPath: 'php-cgi', maxProcs: 1, phpFcgiChildren: 2 }] }],
  });
  t.teardown(() => mw.close());
  await mw.ready();
  t.true(await canConnect({ socket: `${socket}-0` }));
  const app = new Koa();
  app.use(mw);
  const server = await serve(app);
  t.teardown(() => server.close());
  const res = await rawRequest(server.port, '/mw-index.php');
  t.is(res.body.toString(), 'index: /mw-index.php');
  await mw.close();
  t.false(await canConnect({ socket: `${socket}-0` }));
});

test('startup errors: no documentRoot, a key without hosts, a map to an unknown key', (t) => {
  t.throws(() => fastcgi({ documentRoot: '', backends: [] }), { message: /documentRoot/ });
  t.throws(() => fastcgi({ documentRoot: DOCROOT, backends: [{ key: '.php', hosts: [] }] }), {
    message: /needs a list of hosts/,
  });
  t.throws(
    () =>
      fastcgi({
        documentRoot: DOCROOT,
        backends: [{ key: '.php', hosts: [{ port: 1 }] }],
        mapExtensions: { '.php3': '.php5' },
      }),
    { message: /no such key/ },
  );
});

test('allowXSendFile without xSendfileDocroot is allowed, with a warning at start', (t) => {
  const log = memoryLogger();
  fastcgi({
    documentRoot: DOCROOT,
    log,
    backends: [{ key: '.php', hosts: [{ port: 9, allowXSendFile: true }] }],
  });
  t.true(log.lines.some((line) => line.includes('warning') && line.includes('any file')));
});
