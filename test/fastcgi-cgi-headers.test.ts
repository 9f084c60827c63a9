import test from 'ava';
import { BadCgiResponse, CgiHeaderAccumulator, parseCgiHeaders } from '../src/fastcgi/cgi-headers.js';

const parse = (text: string) => parseCgiHeaders(Buffer.from(text, 'latin1'));

test('LF and CRLF blocks give the same headers and the body offset', (t) => {
  const lf = parse('Content-type: text/html\nX-A: 1\n\nbody');
  const crlf = parse('Content-type: text/html\r\nX-A: 1\r\n\r\nbody');
  t.deepEqual(lf?.headers, [
    ['Content-type', 'text/html'],
    ['X-A', '1'],
  ]);
  t.deepEqual(crlf?.headers, lf?.headers);
  t.is(lf?.status, 200);
  t.is(lf?.bodyStart, 'Content-type: text/html\nX-A: 1\n\n'.length);
  t.is(crlf?.bodyStart, 'Content-type: text/html\r\nX-A: 1\r\n\r\n'.length);
});

test('an incomplete block is undefined, not an error', (t) => {
  t.is(parse('Content-Type: text/html\r\n'), undefined);
  t.is(parse('Content-Type: text/html\r\n\r'), undefined);
  t.is(parse('Content-Type: text/ht'), undefined);
});

test('Status sets the status, its text is ignored, and it is not forwarded', (t) => {
  const head = parse('Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\n');
  t.is(head?.status, 404);
  t.deepEqual(head?.headers, [['Content-Type', 'text/plain']]);
  t.is(parse('status: 201\n\n')?.status, 201);
});

test('a non-numeric or out-of-range Status is a BadCgiResponse (502)', (t) => {
  for (const bad of [
    'Status: abc\n\n',
    'Status: 20\n\n',
    'Status: 2000\n\n',
    'Status: 099\n\n',
    'Status:\n\n',
  ]) {
    const error = t.throws(() => parse(bad), { instanceOf: BadCgiResponse }, bad);
    t.is(error.status, 502);
  }
});

test('Location without Status is a 302; with Status the Status wins', (t) => {
  t.is(parse('Location: /elsewhere\n\n')?.status, 302);
  t.is(parse('Location: /elsewhere\nStatus: 301\n\n')?.status, 301);
  t.is(parse('Status: 201\nLocation: /new\n\n')?.status, 201);
});

test('an NPH status line is accepted', (t) => {
  const head = parse('HTTP/1.1 403 Forbidden\r\nX-A: b\r\n\r\n');
  t.is(head?.status, 403);
  t.deepEqual(head?.headers, [['X-A', 'b']]);
  t.is(parse('HTTP/1.0 200 OK\n\n')?.status, 200);
});

test('a first line without a colon is a BadCgiResponse', (t) => {
  t.throws(() => parse('hello world\n\nbody'), { instanceOf: BadCgiResponse });
  t.throws(() => parse('<html>\r\n\r\n'), { instanceOf: BadCgiResponse });
});

test('a header block over 64 KiB is a BadCgiResponse, complete or not', (t) => {
  const big = `X-Big: ${'a'.repeat(70 * 1024)}`;
  t.throws(() => parse(big), { instanceOf: BadCgiResponse });
  t.throws(() => parse(`${big}\r\n\r\n`), { instanceOf: BadCgiResponse });
  t.truthy(parse(`X-Big: ${'a'.repeat(60 * 1024)}\r\n\r\n`));
});

test('empty values are dropped, spelling and order kept, Set-Cookie kept apart', (t) => {
  const head = parse(
    'X-Empty:\r\nSet-Cookie: a=1\r\nX-Spaces:   \r\nSet-Cookie: b=2\r\ncontent-TYPE: text/x\r\n\r\n',
  );
  t.deepEqual(head?.headers, [
    ['Set-Cookie', 'a=1'],
    ['Set-Cookie', 'b=2'],
    ['content-TYPE', 'text/x'],
  ]);
});

test('header names must be tokens and values free of control characters', (t) => {
  t.throws(() => parse('Bad Name: x\n\n'), { instanceOf: BadCgiResponse });
  t.throws(() => parse('X-A: a\u0000b\n\n'), { instanceOf: BadCgiResponse });
  t.deepEqual(parse('X-A: a\tb\n\n')?.headers, [['X-A', 'a\tb']]);
  // latin1 bytes pass through as they are
  t.deepEqual(parse('X-A: caf\u00e9\n\n')?.headers, [['X-A', 'caf\u00e9']]);
});

test('an immediately blank block means no headers and status 200', (t) => {
  t.deepEqual(parse('\r\nbody'), { status: 200, headers: [], bodyStart: 2 });
  t.deepEqual(parse('\nbody'), { status: 200, headers: [], bodyStart: 1 });
});

test('the accumulator finds the block however the bytes are split', (t) => {
  const text = Buffer.from('Status: 202\r\nX-A: 1\r\nSet-Cookie: c=3\r\n\r\nthe body', 'latin1');
  const whole = parseCgiHeaders(text)!;
  for (let size = 1; size <= text.length; size++) {
    const acc = new CgiHeaderAccumulator();
    let result: ReturnType<CgiHeaderAccumulator['push']>;
    const rest: Buffer[] = [];
    for (let at = 0; at < text.length; at += size) {
      const piece = text.subarray(at, at + size);
      if (result) rest.push(piece);
      else result = acc.push(piece);
    }
    t.truthy(result, `size ${size}`);
    t.is(result!.head.status, 202);
    t.deepEqual(result!.head.headers, whole.headers);
    t.is(Buffer.concat([result!.rest, ...rest]).toString(), 'the body');
  }
});

test('the accumulator refuses a block that grows past 64 KiB without ending', (t) => {
  const acc = new CgiHeaderAccumulator();
  t.is(acc.push(Buffer.from('X-A: ')), undefined);
  t.throws(
    () => {
      for (let i = 0; i < 100; i++) acc.push(Buffer.alloc(1024, 'a'));
    },
    { instanceOf: BadCgiResponse },
  );
});
