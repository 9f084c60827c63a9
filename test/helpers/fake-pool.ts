/** A BackendPool in front of a scripted fake FastCGI server, and small helpers its tests share. */
import type { Readable } from 'node:stream';
import type { ExecutionContext } from 'ava';
import { BackendPool, type BackendPoolOptions } from '../../src/fastcgi/pool.js';
import { type FakeServer, startFakeFastCgi } from './fake-fastcgi.js';

export const params: [string, string][] = [['SCRIPT_FILENAME', '/x.php']];

export async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The fake server running `script`, and a pool on it; both closed in teardown. */
export async function poolOnFake(
  t: ExecutionContext,
  script: Parameters<typeof startFakeFastCgi>[0],
  poolOptions: Omit<BackendPoolOptions, 'address'> = {},
  serverOptions?: Parameters<typeof startFakeFastCgi>[1],
): Promise<{ server: FakeServer; pool: BackendPool }> {
  const server = await startFakeFastCgi(script, serverOptions);
  const pool = new BackendPool({ address: server.address, ...poolOptions });
  t.teardown(async () => {
    await pool.destroy();
    await server.close();
  });
  return { server, pool };
}
