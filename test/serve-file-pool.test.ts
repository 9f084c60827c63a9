import { createHash, randomBytes } from 'node:crypto';
import {
  mkdtempSync,
  readdirSync,
  readlinkSync,
  rmSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import test from 'ava';
import Koa from 'koa';
import { fileInfo, forgetFile } from '../src/http/file-info.js';
import { FILE_CHUNK, FileStream, fileBuffers } from '../src/http/file-stream.js';
import { serveFile } from '../src/http/serve-file.js';
import { serve } from './helpers/http.js';
import { eventually } from './helpers/wait.js';

/**
 * Large files go out through FileStream: pooled read buffers reused only after the socket's
 * write callback, the fd closed however the response ends, a shrinking file cutting the
 * connection. Serial: the pool and the fd table are the process's.
 */
const dir = mkdtempSync(join(tmpdir(), 'kl-pool-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const MiB = 1024 * 1024;

function makeFile(name: string, bytes: Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  forgetFile(path);
  return path;
}

/** fds of this process open on `path` (other fds come and go with the test runner). */
function fdsOn(path: string): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === path) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function fileServer(t: import('ava').ExecutionContext) {
  const app = new Koa();
  const errors: Error[] = [];
  app.on('error', (err: Error) => errors.push(err));
  app.use(async (ctx) => {
    const path = join(dir, ctx.path.slice(1));
    forgetFile(path);
    await serveFile(ctx, await fileInfo(path), { contentType: 'application/octet-stream', validators: true });
  });
  const server = await serve(app);
  t.teardown(server.close);
  return { port: server.port, errors };
}

interface Raw {
  socket: Socket;
  head: Promise<{ status: number; headers: string; bodyStart: Buffer }>;
}

/** A keep-alive GET over a raw socket; the caller decides how to read the rest. */
function rawGet(port: number, path: string, extra = ''): Raw {
  const socket = connect(port, '127.0.0.1');
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}\r\n`);
  const head = new Promise<{ status: number; headers: string; bodyStart: Buffer }>((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      socket.pause();
      const headers = buf.subarray(0, end).toString('latin1');
      resolve({ status: Number(headers.slice(9, 12)), headers, bodyStart: buf.subarray(end + 4) });
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
  return { socket, head };
}

/** Reads the rest of the socket until it closes (or `limit` bytes, then resolves). */
function readRest(
  socket: Socket,
  limit = Number.POSITIVE_INFINITY,
): Promise<{ bytes: Buffer; closed: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let n = 0;
    const done = (closed: boolean) => {
      socket.removeAllListeners('data');
      resolve({ bytes: Buffer.concat(chunks), closed });
    };
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      n += c.length;
      if (n >= limit) done(false);
    });
    socket.once('close', () => done(true));
    socket.on('error', () => {});
    socket.resume();
  });
}

test.serial('a large file arrives whole, over keep-alive, and reuses the same buffers', async (t) => {
  const bytes = randomBytes(MiB + 12345);
  const path = makeFile('whole.bin', bytes);
  const { port, errors } = await fileServer(t);
  const before = fileBuffers.allocated;
  const acquired = fileBuffers.acquired;
  for (let i = 0; i < 5; i++) {
    const r = rawGet(port, '/whole.bin');
    const head = await r.head;
    t.is(head.status, 200);
    t.regex(head.headers, new RegExp(`\r\nContent-Length: ${bytes.length}\r\n`, 'i'));
    const rest = await readRest(r.socket, bytes.length - head.bodyStart.length);
    t.is(sha(Buffer.concat([head.bodyStart, rest.bytes])), sha(bytes));
    r.socket.destroy();
  }
  t.true(await eventually(() => fileBuffers.lent === 0));
  // FILE_CHUNK pieces a response, from two buffers at most, the same ones every time.
  t.is(fileBuffers.acquired - acquired, 5 * Math.ceil(bytes.length / FILE_CHUNK));
  t.true(fileBuffers.allocated - before <= 2, `allocated ${fileBuffers.allocated - before}`);
  t.true(await eventually(() => fdsOn(path) === 0));
  t.deepEqual(errors, []);
});

test.serial(
  'concurrent slow readers get exact bytes: no buffer is reused while a socket holds it',
  async (t) => {
    const bytes = randomBytes(4 * MiB + 777);
    makeFile('concurrent.bin', bytes);
    const { port } = await fileServer(t);
    const one = async () => {
      const r = rawGet(port, '/concurrent.bin', 'Connection: close\r\n');
      const head = await r.head;
      const chunks = [head.bodyStart];
      // Read in fits and starts so that writes queue up in the socket.
      await new Promise<void>((resolve) => {
        r.socket.on('data', (c: Buffer) => {
          chunks.push(c);
          r.socket.pause();
          setTimeout(() => r.socket.resume(), Math.random() < 0.1 ? 5 : 0);
        });
        r.socket.once('end', resolve);
        r.socket.resume();
      });
      return Buffer.concat(chunks);
    };
    const acquired = fileBuffers.acquired;
    const bodies = await Promise.all(Array.from({ length: 8 }, one));
    t.true(fileBuffers.acquired - acquired >= 8 * Math.ceil(bytes.length / FILE_CHUNK));
    for (const body of bodies) t.is(sha(body), sha(bytes));
    t.true(await eventually(() => fileBuffers.lent === 0));
  },
);

test.serial('a client gone after the first bytes: fd closed, buffers back, server fine', async (t) => {
  const bytes = Buffer.alloc(32 * MiB, 7);
  const path = makeFile('gone.bin', bytes);
  const { port } = await fileServer(t);
  const baseline = readdirSync('/proc/self/fd').length;
  for (let i = 0; i < 5; i++) {
    const r = rawGet(port, '/gone.bin');
    await r.head;
    t.is(fdsOn(path), 1);
    r.socket.destroy();
  }
  t.true(await eventually(() => fdsOn(path) === 0), 'fd closed');
  t.true(await eventually(() => fileBuffers.lent === 0), `buffers back (lent ${fileBuffers.lent})`);
  t.true(
    await eventually(() => readdirSync('/proc/self/fd').length <= baseline),
    'fd count back to baseline',
  );
  // And the next request is served.
  const r = rawGet(port, '/gone.bin', 'Range: bytes=100-199\r\n');
  const head = await r.head;
  t.is(head.status, 206);
  const rest = await readRest(r.socket, 100 - head.bodyStart.length);
  t.deepEqual(Buffer.concat([head.bodyStart, rest.bytes]), bytes.subarray(100, 200));
  r.socket.destroy();
});

test.serial('a slow client holds at most two buffers, not the file', async (t) => {
  makeFile('slow.bin', Buffer.alloc(64 * MiB, 1));
  const { port } = await fileServer(t);
  const r = rawGet(port, '/slow.bin');
  await r.head;
  // The client reads nothing more: the socket fills and the server must wait.
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.true(fileBuffers.lent >= 1 && fileBuffers.lent <= 2, `lent ${fileBuffers.lent}`);
  r.socket.destroy();
  t.true(await eventually(() => fileBuffers.lent === 0));
});

test.serial('a file truncated while being sent cuts the connection instead of hanging', async (t) => {
  const size = 64 * MiB;
  const path = makeFile('shrink.bin', Buffer.alloc(size, 2));
  const { port, errors } = await fileServer(t);
  // Keep-alive: a response that ended short of its Content-Length would leave this waiting.
  const r = rawGet(port, '/shrink.bin');
  const head = await r.head;
  t.is(head.status, 200);
  truncateSync(path, MiB);
  const rest = await Promise.race([
    readRest(r.socket),
    new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 10_000)),
  ]);
  t.not(rest, 'hung');
  if (rest === 'hung') return void r.socket.destroy();
  t.true(rest.closed);
  t.true(head.bodyStart.length + rest.bytes.length < size);
  t.true(await eventually(() => fdsOn(path) === 0));
  t.true(await eventually(() => fileBuffers.lent === 0));
  t.true(errors.some((e) => (e as { code?: string }).code === 'ESHRUNK'));
});

test.serial('HEAD, a single range and multipart ranges of a large file', async (t) => {
  const bytes = randomBytes(3 * MiB);
  const path = makeFile('ranges.bin', bytes);
  const { port } = await fileServer(t);

  const headRes = await fetch(`http://127.0.0.1:${port}/ranges.bin`, { method: 'HEAD' });
  t.is(headRes.status, 200);
  t.is(headRes.headers.get('content-length'), String(bytes.length));
  t.is((await headRes.arrayBuffer()).byteLength, 0);

  const single = await fetch(`http://127.0.0.1:${port}/ranges.bin`, {
    headers: { Range: 'bytes=1000-2000999' },
  });
  t.is(single.status, 206);
  t.is(single.headers.get('content-range'), `bytes 1000-2000999/${bytes.length}`);
  t.deepEqual(Buffer.from(await single.arrayBuffer()), bytes.subarray(1000, 2001000));

  const multi = await fetch(`http://127.0.0.1:${port}/ranges.bin`, {
    headers: { Range: 'bytes=0-9,1000000-2999999' },
  });
  t.is(multi.status, 206);
  const body = Buffer.from(await multi.arrayBuffer());
  t.is(body.length, Number(multi.headers.get('content-length')));
  t.true(body.includes(bytes.subarray(0, 10)));
  t.true(body.includes(bytes.subarray(1000000, 3000000)));
  t.true(await eventually(() => fdsOn(path) === 0));
  t.true(await eventually(() => fileBuffers.lent === 0));
});

test.serial('FileStream read any other way pushes fresh buffers and reports a shrunk file', async (t) => {
  const bytes = randomBytes(FILE_CHUNK * 2 + 5);
  const path = makeFile('plain.bin', bytes);
  const lentBefore = fileBuffers.lent;
  const chunks: Buffer[] = [];
  for await (const chunk of new FileStream(path, 3, bytes.length - 1)) chunks.push(chunk as Buffer);
  t.deepEqual(Buffer.concat(chunks), bytes.subarray(3));
  t.is(fileBuffers.lent, lentBefore);
  // Asked for more than the file has: an error, not a short end.
  await t.throwsAsync(
    async () => {
      for await (const _ of new FileStream(path, 0, bytes.length + 10)) void _;
    },
    { message: /shrunk/ },
  );
  t.true(await eventually(() => fdsOn(path) === 0));
  // A file gone before it is opened: the open error.
  unlinkSync(path);
  await t.throwsAsync(
    async () => {
      for await (const _ of Readable.from(new FileStream(path, 0, 10))) void _;
    },
    { code: 'ENOENT' },
  );
});
