/** mod_redirect (url.redirect) through `koa-lighty -f`: first matching rule, `$n` and `%n` captures, the code. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { rawExchange, rawRequest } from './helpers/http.js';
import { type RunningKoaLighty, startKoaLighty } from './helpers/koa-lighty.js';

const docroot = mkdtempSync(join(tmpdir(), 'koa-lighty-redirect-'));
writeFileSync(join(docroot, 'kept.txt'), 'kept\n');
let server: RunningKoaLighty;

test.before(async () => {
  server = await startKoaLighty({
    conf: `server.modules = ("mod_redirect")
server.document-root = "${docroot}"
server.bind = "127.0.0.1"
server.port = PORT
url.redirect = (
  "^/old/(.*)$" => "/new/$1",
  "^/old/never$" => "/second-rule-never-wins",
  "^/away(\\?.*)?$" => "http://www.example.org/$1",
)
$HTTP["url"] =^ "/temp/" {
  url.redirect = ( "^/temp/(.*)" => "/moved/$1" )
  url.redirect-code = 302
}
$HTTP["host"] =~ "^old\\.(.*)$" {
  url.redirect = ( "^/(.*)" => "http://%1/$1" )
}
`,
  });
});
test.after.always(async () => {
  await server?.stop();
  rmSync(docroot, { recursive: true, force: true });
});

test('the first matching rule answers 301 with its captures in Location and an empty body', async (t) => {
  const res = await rawRequest(server.port, '/old/a/b.html');
  t.is(res.status, 301);
  t.is(res.headers.location, '/new/a/b.html');
  t.is(res.body.length, 0);
  t.is((await rawRequest(server.port, '/old/never')).headers.location, '/new/never');
});

test('the query string is part of what the rules match', async (t) => {
  const res = await rawRequest(server.port, '/away?x=1');
  t.is(res.status, 301);
  t.is(res.headers.location, 'http://www.example.org/?x=1');
});

test('url.redirect-code and rules inside a condition', async (t) => {
  const res = await rawRequest(server.port, '/temp/file');
  t.is(res.status, 302);
  t.is(res.headers.location, '/moved/file');
});

test('requests no rule matches are served as usual', async (t) => {
  const res = await rawRequest(server.port, '/kept.txt');
  t.is(res.status, 200);
  t.is(res.body.toString(), 'kept\n');
});

test('%1 in a target is the capture of the condition of its block (here the host)', async (t) => {
  const head = 'GET /a%20b?x=1 HTTP/1.1\r\nHost: old.example.org\r\nConnection: close\r\n\r\n';
  const res = await rawExchange(server.port, Buffer.from(head));
  t.is(res.status, 301);
  t.is(res.headers.location, 'http://example.org/a%20b?x=1');
});
