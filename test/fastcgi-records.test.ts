import test from 'ava';
import { ProtocolError } from '../src/fastcgi/errors.js';
import {
  decodeNameValuePairs,
  encodeBeginRequest,
  encodeEndRequest,
  encodeGetValues,
  encodeNameValuePairs,
  encodeParams,
  encodeRecord,
  type FastCgiRecord,
  FCGI_KEEP_CONN,
  RecordDecoder,
  RecordType,
  Role,
} from '../src/fastcgi/records.js';

function decodeAll(bytes: Buffer, split: number[] | number): FastCgiRecord[] {
  const records: FastCgiRecord[] = [];
  const decoder = new RecordDecoder((r) => records.push({ ...r, content: Buffer.from(r.content) }));
  if (typeof split === 'number') {
    for (let at = 0; at < bytes.length; at += split) decoder.push(bytes.subarray(at, at + split));
  } else {
    let at = 0;
    for (const cut of [...split, bytes.length]) {
      decoder.push(bytes.subarray(at, cut));
      at = cut;
    }
  }
  return records;
}

const sample = Buffer.concat([
  encodeBeginRequest(Role.RESPONDER, true),
  encodeParams([
    ['SCRIPT_FILENAME', '/srv/x.php'],
    ['EMPTY', ''],
  ]),
  encodeRecord(RecordType.STDIN, 1, Buffer.from('hello')),
  encodeRecord(RecordType.STDIN, 1),
  encodeEndRequest(7, 0, 1),
]);

test('every record is padded to a multiple of 8 and carries the right header', (t) => {
  for (const length of [0, 1, 7, 8, 9, 100, 65_535]) {
    const rec = encodeRecord(RecordType.STDOUT, 3, Buffer.alloc(length, 1));
    t.is(rec.length % 8, 0, `length ${length}`);
    t.is(rec[0], 1);
    t.is(rec[1], RecordType.STDOUT);
    t.is(rec.readUInt16BE(2), 3);
    t.is(rec.readUInt16BE(4), length);
    t.is(rec.length, 8 + length + rec[6]!);
  }
});

test('content over 65,535 bytes is split over several records, and reassembles', (t) => {
  const content = Buffer.alloc(65_535 * 2 + 10);
  for (let i = 0; i < content.length; i++) content[i] = i % 251;
  const bytes = encodeRecord(RecordType.STDIN, 1, content);
  const records = decodeAll(bytes, 100_000);
  t.deepEqual(
    records.map((r) => r.content.length),
    [65_535, 65_535, 10],
  );
  t.true(Buffer.concat(records.map((r) => r.content)).equals(content));
});

test('the decoder gives the same records for every split point and one byte at a time', (t) => {
  const whole = decodeAll(sample, sample.length);
  t.is(whole.length, 6);
  t.deepEqual(
    whole.map((r) => r.type),
    [1, 4, 4, 5, 5, 3],
  );
  for (let cut = 0; cut <= sample.length; cut++)
    t.deepEqual(decodeAll(sample, [cut]), whole, `cut at ${cut}`);
  for (let a = 0; a <= sample.length; a += 5) {
    for (let b = a; b <= sample.length; b += 3) t.deepEqual(decodeAll(sample, [a, b]), whole);
  }
  t.deepEqual(decodeAll(sample, 1), whole);
});

test('a 65,535-byte record decodes one byte at a time', (t) => {
  const content = Buffer.alloc(65_535, 0xab);
  const bytes = encodeRecord(RecordType.STDOUT, 1, content);
  const records = decodeAll(bytes, 1);
  t.is(records.length, 1);
  t.true(records[0]!.content.equals(content));
});

test('BEGIN_REQUEST carries the role and FCGI_KEEP_CONN', (t) => {
  const [begin] = decodeAll(encodeBeginRequest(Role.AUTHORIZER, true), 64);
  t.is(begin!.type, RecordType.BEGIN_REQUEST);
  t.is(begin!.content.readUInt16BE(0), Role.AUTHORIZER);
  t.is(begin!.content[2], FCGI_KEEP_CONN);
  const [plain] = decodeAll(encodeBeginRequest(Role.RESPONDER, false), 64);
  t.is(plain!.content[2], 0);
});

test('name-value pairs are binary-safe, with 1- and 4-byte lengths', (t) => {
  const binary = Buffer.from([0, 255, 10, 13, 0x80]);
  const long = 'v'.repeat(200_000);
  const pairs = encodeNameValuePairs([
    ['A', 'x'],
    [Buffer.from('BIN'), binary],
    ['N'.repeat(127), 'short'],
    ['N'.repeat(128), long],
    ['UTF', 'é€'],
  ]);
  const decoded = decodeNameValuePairs(pairs);
  t.is(decoded.length, 5);
  t.is(decoded[0]![1].toString(), 'x');
  t.true(decoded[1]![1].equals(binary));
  t.is(decoded[2]![0].length, 127);
  t.is(decoded[3]![0].length, 128);
  t.is(decoded[3]![1].length, 200_000);
  t.is(decoded[4]![1].toString('utf8'), 'é€');
  // 1-byte length for 127, 4 bytes with the high bit for 128.
  t.is(pairs[pairs.indexOf(0x7f)], 0x7f);
});

test('PARAMS over 64 KiB use several records, whole pairs each, and end with an empty one', (t) => {
  const pairs: [string, string][] = Array.from({ length: 10 }, (_, i) => [`P${i}`, String(i).repeat(30_000)]);
  const records = decodeAll(encodeParams(pairs), 4096);
  t.true(records.length >= 5);
  t.true(records.every((r) => r.type === RecordType.PARAMS && r.content.length <= 65_535));
  t.is(records.at(-1)!.content.length, 0);
  // php-cgi parses each record alone: every record must hold whole pairs.
  const perRecord = records.slice(0, -1).flatMap((r) => decodeNameValuePairs(r.content));
  t.deepEqual(
    perRecord.map(([n, v]) => [n.toString(), v.toString()]),
    pairs,
  );
});

test('a pair too big for one record is split, as FastCGI allows', (t) => {
  const records = decodeAll(encodeParams([['BIG', 'z'.repeat(150_000)]]), 4096);
  t.is(records.length, 4);
  const pairs = decodeNameValuePairs(Buffer.concat(records.map((r) => r.content)));
  t.is(pairs[0]![1].length, 150_000);
});

test('GET_VALUES is a management record with empty values', (t) => {
  const [rec] = decodeAll(encodeGetValues(['FCGI_MAX_CONNS', 'FCGI_MPXS_CONNS']), 1);
  t.is(rec!.type, RecordType.GET_VALUES);
  t.is(rec!.requestId, 0);
  t.deepEqual(
    decodeNameValuePairs(rec!.content).map(([n, v]) => [n.toString(), v.length]),
    [
      ['FCGI_MAX_CONNS', 0],
      ['FCGI_MPXS_CONNS', 0],
    ],
  );
});

test('truncated name-value pairs are a ProtocolError', (t) => {
  const good = encodeNameValuePairs([['NAME', 'value']]);
  for (let cut = 1; cut < good.length; cut++) {
    t.throws(() => decodeNameValuePairs(good.subarray(0, cut)), { instanceOf: ProtocolError });
  }
  t.throws(() => decodeNameValuePairs(Buffer.from([0x80, 0, 0])), { instanceOf: ProtocolError });
});

test('a wrong version byte is refused, and the decoder stays refused', (t) => {
  const decoder = new RecordDecoder(() => t.fail('no record expected'));
  const error = t.throws(() => decoder.push(Buffer.from('HTTP/1.1 200 OK\r\n')), {
    instanceOf: ProtocolError,
  });
  t.is(error.status, 502);
  t.throws(() => decoder.push(encodeRecord(RecordType.STDOUT, 1, Buffer.from('x'))), {
    instanceOf: ProtocolError,
  });
});

test('garbage after a good record is refused after the good record was delivered', (t) => {
  const seen: number[] = [];
  const decoder = new RecordDecoder((r) => seen.push(r.type));
  const bytes = Buffer.concat([
    encodeRecord(RecordType.STDOUT, 1, Buffer.from('ok')),
    Buffer.from([9, 9, 9, 9, 9, 9, 9, 9]),
  ]);
  t.throws(() => decoder.push(bytes), { instanceOf: ProtocolError });
  t.deepEqual(seen, [RecordType.STDOUT]);
});

test('atBoundary tells a clean end from a cut record', (t) => {
  const decoder = new RecordDecoder(() => {});
  t.true(decoder.atBoundary);
  const rec = encodeRecord(RecordType.STDOUT, 1, Buffer.from('abc'));
  decoder.push(rec.subarray(0, 10));
  t.false(decoder.atBoundary);
  decoder.push(rec.subarray(10));
  t.true(decoder.atBoundary);
});
