/**
 * simpleVhost() and evhost() used alone in a Koa app, in front of staticFiles(): each host
 * its own files, the default host for the others, and a Host that tries to build a path out
 * of the server root answered 400 (there is no requestHead() in front here to refuse it).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import Koa from 'koa';
import { evhost, lighttpdErrors, memoryLogger, OptionError, simpleVhost, staticFiles } from '../src/index.js';
import { rawExchange, serve } from './helpers/http.js';

const root = mkdtempSync(join(tmpdir(), 'koa-lighty-vhost-koa-'));
for (const dir of ['www', 'srv/example.org/htdocs', 'srv/shop.example.org/htdocs', 'ev/example.org/shop'])
  mkdirSync(join(root, dir), { recursive: true });
for (const dir of ['www', 'srv/example.org/htdocs', 'srv/shop.example.org/htdocs', 'ev/example.org/shop'])
  writeFileSync(join(root, dir, 'who.txt'), `${dir}\n`);
writeFileSync(join(root, 'srv/secret.txt'), 'outside every host\n');
test.after.always(() => rmSync(root, { recursive: true, force: true }));

function app(vhost: Koa.Middleware): Koa {
  const koa = new Koa();
  koa.use(lighttpdErrors({ log: memoryLogger() }));
  koa.use(vhost);
  koa.use(staticFiles({ documentRoot: join(root, 'www'), mimeTypes: [['.txt', 'text/plain']] }));
  return koa;
}

async function get(koa: Koa, path: string, host: string): Promise<{ status: number; body: string }> {
  const served = await serve(koa);
  try {
    const request = `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;
    const response = await rawExchange(served.port, Buffer.from(request, 'latin1'));
    return { status: response.status, body: response.body.toString() };
  } finally {
    await served.close();
  }
}

test('simpleVhost: each host its directory, the default host for the rest, the port and case ignored', async (t) => {
  const koa = app(
    simpleVhost({ serverRoot: join(root, 'srv'), defaultHost: 'example.org', documentRoot: 'htdocs' }),
  );
  t.like(await get(koa, '/who.txt', 'shop.example.org'), {
    status: 200,
    body: 'srv/shop.example.org/htdocs\n',
  });
  t.like(await get(koa, '/who.txt', 'SHOP.example.org:8080'), { body: 'srv/shop.example.org/htdocs\n' });
  t.like(await get(koa, '/who.txt', 'unknown.example'), { body: 'srv/example.org/htdocs\n' });
});

test('evhost: the pattern filled in from the host; no directory, the document root', async (t) => {
  const koa = app(evhost({ pathPattern: join(root, 'ev/%0/%3'), log: memoryLogger() }));
  t.like(await get(koa, '/who.txt', 'shop.example.org'), { status: 200, body: 'ev/example.org/shop\n' });
  t.like(await get(koa, '/who.txt', 'www.example.org'), { body: 'www\n' });
});

test('a Host that would climb out of the server root is a 400, not a file', async (t) => {
  const koas = [
    app(simpleVhost({ serverRoot: join(root, 'srv', 'example.org') })),
    app(evhost({ pathPattern: join(root, 'srv', 'example.org', '%_'), log: memoryLogger() })),
  ];
  for (const koa of koas)
    for (const host of ['..', '../secret.txt', '..:80', 'a/../..', '.', 'x..', 'a%2f..']) {
      const answer = await get(koa, '/secret.txt', host);
      t.is(answer.status, 400, host);
      t.false(answer.body.includes('outside every host'), host);
    }
});

test('an evhost pattern with a % sequence lighttpd does not know throws an OptionError', (t) => {
  for (const pathPattern of ['/srv/%-1', '/srv/%{1', '/srv/%a', ''])
    t.throws(() => evhost({ pathPattern }), { instanceOf: OptionError }, pathPattern);
  t.throws(() => simpleVhost({ serverRoot: '' }), { instanceOf: OptionError });
});
