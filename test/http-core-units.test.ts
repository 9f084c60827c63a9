import test from 'ava';
import { errorPageBody } from '../src/http/error-page.js';
import { lighttpdEtag } from '../src/http/file-info.js';
import { MimeTypes } from '../src/http/mime.js';
import { encodeRelativeUri } from '../src/http/physical.js';
import { parseByteRanges } from '../src/http/serve-file.js';

test('error page lengths (spec 1.3)', (t) => {
  const lengths: Array<[number, number]> = [
    [400, 345],
    [403, 341],
    [404, 341],
    [416, 365],
    [500, 365],
    [501, 353],
    [502, 345],
    [503, 361],
  ];
  for (const [status, length] of lengths)
    t.is(Buffer.byteLength(errorPageBody(status)), length, String(status));
});

// The real check is the lighttpd comparison (test/static-lighttpd): same files, same ETags.
test('lighttpd ETag: the hash over inode, size, mtime', (t) => {
  t.is(lighttpdEtag(0n, 0n, 0n, 0n), `"${hashOfZeros()}"`);
  t.regex(lighttpdEtag(1234n, 37n, 1_700_000_000n, 5n), /^"\d+"$/);
  t.not(lighttpdEtag(1234n, 37n, 1_700_000_000n, 5n), lighttpdEtag(1234n, 37n, 1_700_000_000n, 6n));
});

/** The same hash written out for 32 zero bytes: h = (h << 5) ^ (h >> 27), from 32. */
function hashOfZeros(): number {
  let h = 32;
  for (let i = 0; i < 32; i++) h = ((h << 5) ^ (h >>> 27)) >>> 0;
  return h;
}

test('byte ranges: lighttpd 1.4.69 parsing and merging (seen)', (t) => {
  const size = 2000;
  const cases: Array<[string, Array<[number, number]>]> = [
    ['0-4', [[0, 4]]],
    ['-5', [[1995, 1999]]],
    ['1990-', [[1990, 1999]]],
    ['0-99999', [[0, 1999]]],
    ['0-99999999999999999999999', []],
    ['2000-', []],
    ['5-2', []],
    ['-0', []],
    [' 5 - 9', [[5, 9]]],
    ['+5-9', [[5, 9]]],
    ['5-9x,20-29', [[20, 29]]],
    [',5-6,', [[5, 6]]],
    [
      '0-9,90-99',
      [
        [0, 9],
        [90, 99],
      ],
    ],
    ['0-9,89-99', [[0, 99]]],
    [
      '500-509,0-9',
      [
        [500, 509],
        [0, 9],
      ],
    ],
    ['1000-1009,0-9,5-1500', [[0, 1500]]],
    [
      '500-600,0-10,550-700,5-20',
      [
        [500, 700],
        [0, 20],
      ],
    ],
  ];
  for (const [spec, expected] of cases) t.deepEqual(parseByteRanges(spec, size), expected, spec);
  const twelve = [...Array(12).keys()].map((i) => `${i * 100}-${i * 100}`).join(',');
  t.is(parseByteRanges(twelve, size).length, 10, 'at most 10 ranges');
});

test('redirect Location encoding (ENCODING_REL_URI, seen)', (t) => {
  t.is(encodeRelativeUri('/a b/ü/'), '/a%20b/%C3%BC/');
  t.is(encodeRelativeUri("/t~!'()*"), '/t~!%27()*');
  t.is(encodeRelativeUri('/t$&+,;=:@'), '/t%24%26%2B%2C%3B%3D%3A%40');
  t.is(encodeRelativeUri('/x%y?#'), '/x%25y%3F%23');
});

test('MimeTypes: first match in order below 16 entries, case-insensitive suffixes', (t) => {
  const mime = new MimeTypes([
    ['.gz', 'application/gzip'],
    ['.tar.gz', 'application/x-tgz'],
    ['.TXT', 'text/plain'],
  ]);
  t.is(mime.lookup('/a/b.tar.gz'), 'application/gzip');
  t.is(mime.lookup('/README.txt'), 'text/plain');
  t.is(mime.lookup('/x.bin'), undefined);
});
