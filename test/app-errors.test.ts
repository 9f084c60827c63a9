/**
 * What the lighttpd.conf app does with errors that happen after the response started: a file
 * that shrinks while being sent is logged (lighttpd logs it too); a client that simply closes
 * its connection early is not an error worth a line.
 */
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { memoryLogger } from '../src/log.js';
import { createApp, loadConfig } from '../src/server/app.js';
import { serve } from './helpers/http.js';

async function site(t: import('ava').ExecutionContext) {
  const root = mkdtempSync(join(tmpdir(), 'koa-lighty-app-errors-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  writeFileSync(join(root, 'big.bin'), Buffer.alloc(64 * 1024 * 1024, 7));
  const conf = join(root, 'lighttpd.conf');
  writeFileSync(conf, `server.document-root = "${root}"\nserver.port = 0\n`);
  const log = memoryLogger();
  const lighty = createApp(loadConfig(conf), { log });
  const server = await serve(lighty.app);
  t.teardown(() => server.close());
  return { root, log, port: server.port };
}

/** Opens a GET for /big.bin and resolves once the first body bytes arrived. */
function startDownload(port: number): Promise<import('node:net').Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write('GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n'));
    socket.once('data', () => {
      socket.pause();
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 300));

test('a file that shrinks while being sent is logged', async (t) => {
  const { root, log, port } = await site(t);
  const socket = await startDownload(port);
  truncateSync(join(root, 'big.bin'), 1024 * 1024);
  socket.resume();
  await new Promise((resolve) => socket.once('close', resolve));
  await settle();
  t.true(
    log.lines.some((line) => line.includes('file shrunk while being sent')),
    log.lines.join('\n'),
  );
});

test('a client that goes away mid-download leaves no error line', async (t) => {
  const { log, port } = await site(t);
  const socket = await startDownload(port);
  socket.destroy();
  await settle();
  t.deepEqual(
    log.lines.filter((line) => line.startsWith('(server)')),
    [],
  );
});
