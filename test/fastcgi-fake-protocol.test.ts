/**
 * The connection against a scripted FastCGI server: every odd thing a backend can send must
 * end in a FastCgiError for that request, never in a crash.
 */
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import {
  ClosedBeforeResponse,
  ClosedMidResponse,
  ProtocolError,
  RequestRejected,
} from '../src/fastcgi/errors.js';
import { encodeEndRequest, encodeRecord, ProtocolStatus, RecordType } from '../src/fastcgi/records.js';
import { FakePeer } from './helpers/fake-fastcgi.js';
import { params, poolOnFake, readAll } from './helpers/fake-pool.js';

const answer = FakePeer.answer;

test('an answer split at every byte is parsed whole', async (t) => {
  const { pool, server } = await poolOnFake(t, async (peer) => {
    const req = await peer.request();
    await peer.writeSplit(
      answer(`Status: 201\r\nX-A: 1\r\n\r\nhello ${req!.params.get('SCRIPT_FILENAME')}`, 1, 7),
      1,
    );
  });
  const res = await pool.request({ params });
  t.is(res.status, 201);
  t.deepEqual(res.headers, [['X-A', '1']]);
  t.is((await readAll(res.body)).toString(), 'hello /x.php');
  t.deepEqual(await res.ended, { appStatus: 7, protocolStatus: 0 });
  t.deepEqual(server.scriptErrors, []);
});

test('records of exactly 65,535 bytes both ways, with params and STDIN', async (t) => {
  const upload = Buffer.alloc(65_535 * 3, 'u');
  const { pool } = await poolOnFake(t, async (peer) => {
    const req = (await peer.request())!;
    const head = Buffer.from(`X-Got: ${req.stdin.length} ${req.params.get('BIG')!.length}\r\n\r\n`);
    const first = Buffer.concat([head, Buffer.alloc(65_535 - head.length, 'a')]);
    peer.write(encodeRecord(RecordType.STDOUT, 1, first));
    peer.write(encodeRecord(RecordType.STDOUT, 1, Buffer.alloc(65_535, 'b')));
    peer.write(answer(''));
  });
  const res = await pool.request({
    params: [...params, ['BIG', 'p'.repeat(65_535)]],
    body: Readable.from([upload]),
  });
  t.deepEqual(res.headers, [['X-Got', `${upload.length} 65535`]]);
  const body = await readAll(res.body);
  t.is(body.length, 65_535 * 2 - Buffer.byteLength(`X-Got: ${upload.length} 65535\r\n\r\n`));
});

test('an unknown record type fails the request with a ProtocolError (502)', async (t) => {
  const { pool } = await poolOnFake(t, async (peer) => {
    await peer.request();
    peer.write(encodeRecord(42, 1, Buffer.from('??')));
  });
  const error = await t.throwsAsync(pool.request({ params }), { instanceOf: ProtocolError });
  t.is(error.status, 502);
});

test('an unknown record type after the headers errors the body stream', async (t) => {
  const { pool } = await poolOnFake(t, async (peer) => {
    await peer.request();
    peer.write(encodeRecord(RecordType.STDOUT, 1, Buffer.from('X-A: 1\r\n\r\nstart')));
    await sleep(20);
    peer.write(encodeRecord(RecordType.UNKNOWN_TYPE, 1, Buffer.alloc(8)));
  });
  const res = await pool.request({ params });
  await t.throwsAsync(readAll(res.body), { instanceOf: ProtocolError });
  await t.throwsAsync(res.ended, { instanceOf: ProtocolError });
  t.is(pool.connections, 0);
});

test('a bad record in the same chunk as the headers fails the body without a crash', async (t) => {
  const { pool } = await poolOnFake(t, async (peer) => {
    await peer.request();
    peer.write(
      Buffer.concat([
        encodeRecord(RecordType.STDOUT, 1, Buffer.from('X-A: 1\r\n\r\nstart')),
        encodeRecord(99, 1, Buffer.from('bad')),
      ]),
    );
  });
  const res = await pool.request({ params });
  await sleep(50); // the reader comes late: the body has already failed
  await t.throwsAsync(res.ended, { instanceOf: ProtocolError });
  await t.throwsAsync(readAll(res.body), { instanceOf: ProtocolError });
});

test('garbage bytes instead of records are a ProtocolError', async (t) => {
  const { pool } = await poolOnFake(t, async (peer) => {
    await peer.request();
    peer.write(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi'));
  });
  await t.throwsAsync(pool.request({ params }), { instanceOf: ProtocolError });
});

test('a record for another request id is a ProtocolError', async (t) => {
  const { pool } = await poolOnFake(t, async (peer) => {
    await peer.request();
    peer.write(answer('X-A: 1\r\n\r\n', 2));
  });
  await t.throwsAsync(pool.request({ params }), { instanceOf: ProtocolError });
});

test('a broken CGI header block is a BadCgiResponse (502)', async (t) => {
  const { pool } = await poolOnFake(t, async (peer) => {
    await peer.request();
    peer.write(answer('Status: nope\r\n\r\n'));
  });
  const error = await t.throwsAsync(pool.request({ params }));
  t.is(error.name, 'BadCgiResponse');
  t.is((error as unknown as { status: number }).status, 502);
});

test('a close before any byte, on a fresh connection, is ClosedBeforeResponse (502), not retried', async (t) => {
  const { pool, server } = await poolOnFake(t, async (peer) => {
    await peer.request();
    peer.close();
  });
  const error = await t.throwsAsync(pool.request({ params }), { instanceOf: ClosedBeforeResponse });
  t.is(error.status, 502);
  t.is(server.accepted, 2); // GET_VALUES, then the one request
});

test('a close in the middle of the body errors the body with ClosedMidResponse', async (t) => {
  const { pool } = await poolOnFake(t, async (peer) => {
    await peer.request();
    peer.write(encodeRecord(RecordType.STDOUT, 1, Buffer.from('X-A: 1\r\n\r\npartial')));
    await sleep(20);
    peer.close();
  });
  const res = await pool.request({ params });
  await t.throwsAsync(readAll(res.body), { instanceOf: ClosedMidResponse });
});

test('END_REQUEST with OVERLOADED before headers is RequestRejected (503)', async (t) => {
  const { pool } = await poolOnFake(t, async (peer) => {
    await peer.request();
    peer.write(encodeEndRequest(0, ProtocolStatus.OVERLOADED));
  });
  const error = await t.throwsAsync(pool.request({ params }), { instanceOf: RequestRejected });
  t.is(error.status, 503);
});

test('STDERR arrives line by line, however records cut the lines', async (t) => {
  const { pool } = await poolOnFake(t, async (peer) => {
    await peer.request();
    peer.write(encodeRecord(RecordType.STDERR, 1, Buffer.from('line one\nli')));
    peer.write(encodeRecord(RecordType.STDERR, 1, Buffer.from('ne two\r\ntail')));
    peer.write(answer('X-A: 1\r\n\r\n'));
  });
  const lines: string[] = [];
  const res = await pool.request({ params, onStderr: (line) => lines.push(line) });
  await readAll(res.body);
  await res.ended;
  t.deepEqual(lines, ['line one', 'line two', 'tail']);
});
