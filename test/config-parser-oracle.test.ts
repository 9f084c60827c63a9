import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import test from 'ava';
import { parseConfigFile } from '../src/config/parser.js';
import { printConfig } from '../src/config/print.js';
import { oracleConfig } from './config-parser-oracle.js';

const corpus = resolve('fixtures/conf/parser');

/** Our parse and lighttpd's must mean the same: options, nesting, conditions, else chains. */
function agreesWithLighttpd(file: string) {
  return test(`same parse as lighttpd -p: ${file}`, (t) => {
    const path = join(corpus, file);
    const ours = printConfig(parseConfigFile(path, { cwd: corpus }), { omitPredefined: true });
    const oracle = oracleConfig(path);
    t.true(Object.keys(oracle.options).length + oracle.blocks.length > 0, 'the oracle output was read');
    t.deepEqual(ours, oracle);
  });
}

agreesWithLighttpd('debian/lighttpd.conf');
for (const name of readdirSync(join(corpus, 'debian/conf-available')).sort()) {
  agreesWithLighttpd(`debian/conf-available/${name}`);
}
agreesWithLighttpd('grammar/features.conf');
for (const name of readdirSync(join(corpus, 'spec')).sort()) {
  agreesWithLighttpd(`spec/${name}`);
}
