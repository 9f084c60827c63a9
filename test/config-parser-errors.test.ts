/**
 * Malformed configs: each must fail with a ConfigError naming the right file and line.
 * Every file states its expectation in its first lines:
 *   # expect: LINE some words of the message
 *   # expect-file: path of the file the error is in, relative to the fixture (optional)
 * Files in malformed/ are rejected by lighttpd -tt too; files in stricter/ are accepted by
 * lighttpd 1.4.69, whose parser silently skips the stray tokens, and rejected by us on purpose.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import test from 'ava';
import { ConfigError } from '../src/config/errors.js';
import { parseConfigFile } from '../src/config/parser.js';
import { lighttpdAccepts } from './config-parser-oracle.js';

const corpus = resolve('fixtures/conf/parser');

interface Expectation {
  line: number;
  words: string;
  file: string;
}

function expectationOf(path: string): Expectation {
  const text = readFileSync(path, 'utf8');
  const expect = /^# expect: (\d+) (.+)$/m.exec(text);
  if (!expect) throw new Error(`${path} has no "# expect: LINE words" header`);
  const file = /^# expect-file: (.+)$/m.exec(text);
  return { line: Number(expect[1]), words: expect[2]!, file: file ? join(dirname(path), file[1]!) : path };
}

function rejects(dir: string, name: string, lighttpdToo: boolean) {
  test(`${dir}/${name} is a ConfigError at the right line`, (t) => {
    const path = join(corpus, dir, name);
    const expected = expectationOf(path);
    const error = t.throws(() => parseConfigFile(path, { cwd: corpus }), { instanceOf: ConfigError });
    t.is(error.file, expected.file);
    t.is(error.line, expected.line);
    t.true(error.message.startsWith(`${expected.file}:${expected.line}: `), error.message);
    t.true(error.message.includes(expected.words), `"${error.message}" should mention "${expected.words}"`);
    t.is(
      lighttpdAccepts(path),
      !lighttpdToo,
      lighttpdToo ? 'lighttpd -tt rejects it too' : 'lighttpd accepts it',
    );
  });
}

for (const name of readdirSync(join(corpus, 'malformed')).filter((n) => n.endsWith('.conf'))) {
  rejects('malformed', name, true);
}
for (const name of readdirSync(join(corpus, 'stricter')).filter((n) => n.endsWith('.conf'))) {
  rejects('stricter', name, false);
}

test('a missing main file is a ConfigError naming it', (t) => {
  const error = t.throws(() => parseConfigFile(join(corpus, 'nope.conf')), { instanceOf: ConfigError });
  t.regex(error.message, /nope\.conf/);
});
