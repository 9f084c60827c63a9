/**
 * compress() in a Koa app of its own: in front of staticFiles() and a streaming body, with
 * lighttpdErrors() in front of it. Streams are compressed with backpressure (a reader that
 * stops reading stops the producer), syncFlush sends each piece as it is written, zstd is
 * used where this Node has it, and the options are checked when the middleware is made.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import zlib, { brotliDecompressSync, createGunzip, gunzipSync } from 'node:zlib';
import test, { type ExecutionContext } from 'ava';
import Koa from 'koa';
import { ZSTD_AVAILABLE } from '../src/http/content-coding.js';
import { memoryLogger } from '../src/log.js';
import { compress } from '../src/middleware/compress.js';
import { lighttpdErrors } from '../src/middleware/errors.js';
import { staticFiles } from '../src/middleware/static.js';
import { OptionError } from '../src/option-error.js';
import { rawRequest, serve } from './helpers/http.js';
import { eventually } from './helpers/wait.js';

/** A response header, absent or not. */
const header = (r: { headers: Record<string, string> }, name: string): string | undefined => r.headers[name];

const root = mkdtempSync(join(tmpdir(), 'koa-lighty-compress-'));
test.after.always(() => rmSync(root, { recursive: true, force: true }));
const page = Array.from({ length: 300 }, (_, i) => `<p>paragraph ${i}</p>\n`).join('');
writeFileSync(join(root, 'page.html'), page);
writeFileSync(join(root, 'two-k.txt'), 'k'.repeat(2048));

async function app(t: ExecutionContext, options: Parameters<typeof compress>[0], inner?: Koa.Middleware) {
  const koa = new Koa();
  koa.use(lighttpdErrors({ log: memoryLogger() }));
  koa.use(compress(options));
  if (inner) koa.use(inner);
  koa.use(
    staticFiles({
      documentRoot: root,
      mimeTypes: [
        ['.html', 'text/html'],
        ['.txt', 'text/plain'],
      ],
    }),
  );
  const served = await serve(koa);
  t.teardown(() => served.close());
  return served;
}

test('defaults: text is compressed with the first coding this Node has of zstd, br, gzip', async (t) => {
  const served = await app(t, {});
  const r = await rawRequest(served.port, '/page.html', { 'Accept-Encoding': 'gzip, br, zstd' });
  t.is(r.headers['content-encoding'], ZSTD_AVAILABLE ? 'zstd' : 'br');
  t.is(r.headers['vary'], 'Accept-Encoding');
  t.regex(r.headers['etag']!, ZSTD_AVAILABLE ? /-zstd"$/ : /-br"$/);
  const body = ZSTD_AVAILABLE
    ? (zlib as unknown as { zstdDecompressSync(b: Buffer): Buffer }).zstdDecompressSync(r.body)
    : brotliDecompressSync(r.body);
  t.is(body.toString(), page);
});

test('allowedEncodings with zstd: used where Node has it (22.15, 23.8 and later), skipped before', async (t) => {
  const served = await app(t, { allowedEncodings: ['zstd', 'gzip'] });
  const r = await rawRequest(served.port, '/page.html', { 'Accept-Encoding': 'zstd, gzip' });
  t.is(r.headers['content-encoding'], ZSTD_AVAILABLE ? 'zstd' : 'gzip');
});

test('lighttpdErrors’ pages in front are compressed too, for a thrown error as for a status without body', async (t) => {
  const served = await app(t, { allowedEncodings: ['gzip'] }, async (ctx, next) => {
    if (ctx.path === '/boom') throw new Error('broken');
    if (ctx.path === '/teapot') {
      ctx.status = 418;
      return;
    }
    await next();
  });
  for (const [path, status] of [
    ['/boom', 500],
    ['/teapot', 418],
    ['/missing.html', 404],
  ] as const) {
    const r = await rawRequest(served.port, path, { 'Accept-Encoding': 'gzip' });
    t.is(r.status, status);
    t.is(r.headers['content-encoding'], 'gzip', path);
    t.regex(gunzipSync(r.body).toString(), new RegExp(`<title>${status} `));
  }
});

test('minCompressSize and maxCompressSize (KiB): the answers outside are sent as they are', async (t) => {
  const served = await app(t, { allowedEncodings: ['gzip'], minCompressSize: 2048, maxCompressSize: 4 });
  const exact = await rawRequest(served.port, '/two-k.txt', { 'Accept-Encoding': 'gzip' });
  t.is(header(exact, 'content-encoding'), undefined);
  t.is(header(exact, 'vary'), undefined);
  const large = await rawRequest(served.port, '/page.html', { 'Accept-Encoding': 'gzip' });
  t.true(large.body.length > 4096);
  t.is(header(large, 'content-encoding'), undefined);
  const within = await app(t, { allowedEncodings: ['gzip'], minCompressSize: 2047 });
  const r = await rawRequest(within.port, '/two-k.txt', { 'Accept-Encoding': 'gzip' });
  t.is(r.headers['content-encoding'], 'gzip');
});

test('maxLoadavg: above it nothing is compressed, but the answer still says Vary', async (t) => {
  const served = await app(t, { allowedEncodings: ['gzip'], maxLoadavg: Number.MIN_VALUE });
  const r = await rawRequest(served.port, '/page.html', { 'Accept-Encoding': 'gzip' });
  if (loadavg()[0] === 0) {
    t.is(r.headers['content-encoding'], 'gzip');
    return;
  }
  t.is(header(r, 'content-encoding'), undefined);
  t.is(r.headers['vary'], 'Accept-Encoding');
  t.is(r.body.toString(), page);
});

test('a JSON body and an untyped one with mimetypes [""]', async (t) => {
  const served = await app(t, { allowedEncodings: ['gzip'], mimetypes: [''] }, async (ctx, next) => {
    if (ctx.path === '/json') ctx.body = { items: Array.from({ length: 200 }, (_, i) => i) };
    else if (ctx.path === '/untyped') {
      ctx.body = Readable.from([Buffer.from('u'.repeat(5000))]);
      ctx.remove('Content-Type');
    } else await next();
  });
  const json = await rawRequest(served.port, '/json', { 'Accept-Encoding': 'gzip' });
  t.is(json.headers['content-encoding'], 'gzip');
  t.regex(json.headers['content-type']!, /application\/json/);
  t.deepEqual(JSON.parse(gunzipSync(json.body).toString()).items.length, 200);
  const untyped = await rawRequest(served.port, '/untyped', { 'Accept-Encoding': 'gzip' });
  t.is(untyped.headers['content-encoding'], 'gzip');
  t.is(header(untyped, 'content-type'), undefined);
  t.is(gunzipSync(untyped.body).toString(), 'u'.repeat(5000));
});

/** A body made on demand, 64 KiB of random hex at a time (compresses to about half). */
class Producer extends Readable {
  produced = 0;
  readonly hash = createHash('sha256');
  constructor(private readonly total: number) {
    super({ highWaterMark: 64 * 1024 });
  }
  override _read(): void {
    if (this.produced >= this.total) {
      this.push(null);
      return;
    }
    const chunk = Buffer.from(randomBytes(32 * 1024).toString('hex'));
    this.produced += chunk.length;
    this.hash.update(chunk);
    this.push(chunk);
  }
}

test('a streamed body is compressed with backpressure: a reader that stops stops the producer', async (t) => {
  const total = 64 * 1024 * 1024;
  const producer = new Producer(total);
  const served = await app(t, { allowedEncodings: ['gzip'] }, async (ctx) => {
    ctx.type = 'text/plain';
    ctx.body = producer;
  });
  const received = createHash('sha256');
  let decoded = 0;
  const done = new Promise<void>((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: served.port, path: '/stream', headers: { 'Accept-Encoding': 'gzip' } },
      (res) => {
        t.is(res.headers['content-encoding'], 'gzip');
        t.is(res.headers['content-length'], undefined);
        const gunzip = createGunzip();
        gunzip.on('data', (chunk: Buffer) => {
          decoded += chunk.length;
          received.update(chunk);
        });
        gunzip.on('end', resolve);
        gunzip.on('error', reject);
        res.once('data', (first: Buffer) => {
          gunzip.write(first);
          res.pause();
          // The producer fills its buffer and is not asked for more while nobody reads.
          void eventually(() => producer.readableLength >= producer.readableHighWaterMark, 10_000).then(
            (stalled) => {
              t.true(stalled, 'the producer stalled');
              t.true(producer.produced < 16 * 1024 * 1024, `${producer.produced} bytes made while paused`);
              res.pipe(gunzip);
              res.resume();
            },
          );
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
  await done;
  t.is(decoded, total);
  t.is(received.digest('hex'), producer.hash.digest('hex'));
});

test('syncFlush: each piece of a streamed body reaches the client as it is written', async (t) => {
  const source = new PassThrough();
  const served = await app(t, { allowedEncodings: ['gzip'], syncFlush: true }, async (ctx) => {
    ctx.type = 'text/plain';
    ctx.body = source;
  });
  let text = '';
  const ended = new Promise<void>((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: served.port, path: '/progress', headers: { 'Accept-Encoding': 'gzip' } },
      (res) => {
        const gunzip = createGunzip();
        gunzip.setEncoding('utf8');
        gunzip.on('data', (chunk: string) => {
          text += chunk;
        });
        gunzip.on('end', resolve);
        res.pipe(gunzip);
      },
    );
    req.on('error', reject);
    req.end();
  });
  source.write('step 1 of 2\n');
  t.true(await eventually(() => text === 'step 1 of 2\n'), text);
  source.end('step 2 of 2\n');
  await ended;
  t.is(text, 'step 1 of 2\nstep 2 of 2\n');
});

test('options are checked when compress() is called', (t) => {
  for (const [options, option] of [
    [{ compressionLevel: 10 }, 'compressionLevel'],
    [{ minCompressSize: -1 }, 'minCompressSize'],
    [{ params: { 'gzip.level': 12 } }, 'params'],
    [{ params: { nonsense: 1 } as never }, 'params'],
    [{ maxLoadavg: -1 }, 'maxLoadavg'],
    [{ mimetypes: 'text/' as never }, 'mimetypes'],
  ] as const) {
    const error = t.throws(() => compress(options), { instanceOf: OptionError });
    t.is(error?.option, option);
  }
});
