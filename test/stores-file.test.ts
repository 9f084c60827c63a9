import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import test, { type ExecutionContext } from 'ava';
import { open } from 'lmdb';
import { fileStore } from '../src/stores/file.js';

async function tempFile(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'koa-lighty-trigger-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return join(dir, 'trigger.mdb');
}

test('file store: entries survive closing and reopening the file (a restart)', async (t) => {
  const path = await tempFile(t);
  const first = fileStore(path);
  t.is(first.freshness, 'by-age');
  await first.set('10.0.0.1', 1_700_000_000, 10);
  await first.set('2001:db8::/64', 1_700_000_001, 10);
  await first.close();

  const second = fileStore(path);
  t.teardown(() => second.close());
  t.is(await second.get('10.0.0.1'), 1_700_000_000);
  t.is(await second.get('2001:db8::/64'), 1_700_000_001);
  await second.delete('10.0.0.1');
  t.is(await second.get('10.0.0.1'), undefined);
});

test('file store: the value is the 8-byte little-endian time; 4-byte legacy values are read', async (t) => {
  const path = await tempFile(t);
  const store = fileStore(path);
  await store.set('10.0.0.1', 1_700_000_000, 10);
  await store.close();

  const raw = open<Buffer, string>({ path, encoding: 'binary', compression: false });
  const value = raw.get('10.0.0.1')!;
  t.is(value.length, 8);
  t.is(value.readBigInt64LE(), 1_700_000_000n);
  const legacy = Buffer.alloc(4);
  legacy.writeInt32LE(1_600_000_000);
  await raw.put('10.0.0.2', legacy);
  await raw.close();

  const reopened = fileStore(path);
  t.teardown(() => reopened.close());
  t.is(await reopened.get('10.0.0.2'), 1_600_000_000);
});

test('file store: the sweep deletes entries older than the timeout and keeps fresh ones', async (t) => {
  const path = await tempFile(t);
  let nowMs = 1_700_000_010_000;
  const store = fileStore(path, { now: () => nowMs });
  t.teardown(() => store.close());
  await store.set('stale', 1_700_000_000, 10);
  await store.set('fresh', 1_700_000_009, 10);
  await store.sweep();
  t.is(await store.get('stale'), 1_700_000_000, 'exactly timeout seconds old is still fresh');
  nowMs += 1_000;
  await store.sweep();
  t.is(await store.get('stale'), undefined);
  t.is(await store.get('fresh'), 1_700_000_009);
});

test('file store: the sweep runs by itself on its interval', async (t) => {
  const path = await tempFile(t);
  const store = fileStore(path, { sweepIntervalMs: 20, now: () => 1_700_000_100_000 });
  t.teardown(() => store.close());
  await store.set('stale', 1_700_000_000, 10);
  const until = Date.now() + 5_000;
  while ((await store.get('stale')) !== undefined && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  t.is(await store.get('stale'), undefined);
});

/** A node process running fixtures/trigger/file-store-worker.ts on `path`. */
class Worker {
  private readonly lines: Interface;
  private readonly pending: ((line: string) => void)[] = [];

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    this.lines = createInterface({ input: child.stdout });
    this.lines.on('line', (line) => this.pending.shift()?.(line));
  }

  static async start(t: ExecutionContext, path: string): Promise<Worker> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'fixtures/trigger/file-store-worker.ts', path]);
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    t.teardown(() => {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL');
    });
    const worker = new Worker(child);
    const ready = await Promise.race([
      worker.next(),
      new Promise<string>((resolve) => child.once('exit', () => resolve(`exited: ${stderr}`))),
    ]);
    if (ready !== 'ready') throw new Error(`file store worker did not start: ${ready}`);
    return worker;
  }

  next(): Promise<string> {
    return new Promise((resolve) => this.pending.push(resolve));
  }

  ask(command: string): Promise<string> {
    const answer = this.next();
    this.child.stdin.write(`${command}\n`);
    return answer;
  }
}

test('file store: two node processes on one file see each other’s entries (--workers)', async (t) => {
  const path = await tempFile(t);
  const [one, two] = await Promise.all([Worker.start(t, path), Worker.start(t, path)]);
  t.is(await two.ask('get 10.0.0.1'), 'none');
  t.is(await one.ask('set 10.0.0.1 1700000000 10'), 'ok');
  t.is(await two.ask('get 10.0.0.1'), '1700000000');
  t.is(await two.ask('set 10.0.0.1 1700000007 10'), 'ok');
  t.is(await one.ask('get 10.0.0.1'), '1700000007');
  t.is(await two.ask('set 10.0.0.2 1700000008 10'), 'ok');
  t.is(await one.ask('get 10.0.0.2'), '1700000008');

  // And this process, a third one, sees both.
  const here = fileStore(path);
  t.teardown(() => here.close());
  t.is(await here.get('10.0.0.1'), 1_700_000_007);
  t.is(await here.get('10.0.0.2'), 1_700_000_008);
});
