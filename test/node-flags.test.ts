/**
 * The V8 flags of src/server/node-flags.ts reach every way of starting the server: the bin's
 * shebang (what `koa-lighty -f …` runs), `npm start`, and the workers of --workers (checked on
 * live workers in e2e-workers.test.ts).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { NODE_FLAGS, withNodeFlags } from '../src/server/node-flags.js';
import { PACKAGE_ROOT } from './helpers/koa-lighty.js';

const BIN = join(PACKAGE_ROOT, 'bin', 'koa-lighty.js');

test('the bin’s shebang runs node with the server’s flags, and works as a command', async (t) => {
  const first = readFileSync(BIN, 'utf8').split('\n')[0];
  t.is(first, `#!/usr/bin/env -S node ${NODE_FLAGS.join(' ')}`);
  const { stdout } = await promisify(execFile)(BIN, ['--version']);
  t.regex(stdout, /^koa-lighty\/\d+\.\d+\.\d+ /);
});

test('npm start runs the bin with the same flags', (t) => {
  const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8'));
  t.true(
    (pkg.scripts.start as string).endsWith(`&& node ${NODE_FLAGS.join(' ')} bin/koa-lighty.js`),
    pkg.scripts.start,
  );
});

test('withNodeFlags adds the flags once and leaves a value the user chose', (t) => {
  t.deepEqual(withNodeFlags([]), [...NODE_FLAGS]);
  t.deepEqual(withNodeFlags([...NODE_FLAGS]), [...NODE_FLAGS]);
  t.deepEqual(withNodeFlags(['--max_semi_space_size=32', '--expose_gc', '--inspect']), [
    '--max_semi_space_size=32',
    '--expose_gc',
    '--inspect',
  ]);
  t.deepEqual(withNodeFlags(['--cpu-prof']), ['--cpu-prof', ...NODE_FLAGS]);
});
