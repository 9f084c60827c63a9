/**
 * The server-wide options as the config front end reads them: server.max-connections with
 * server.max-fds (lighttpd's arithmetic), the tuning knobs lighttpd has and Node does not
 * need, server options set inside a condition, and values lighttpd's types cannot hold.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { ConfigError } from '../src/config/errors.js';
import { OptionReader } from '../src/config/option-reader.js';
import { connectionBudget } from '../src/config/server-limits.js';
import { loadConfig } from '../src/server/app.js';

const dir = mkdtempSync(join(tmpdir(), 'koa-lighty-limits-config-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
function conf(lines: string[]): string {
  const file = join(dir, `${++files}.conf`);
  writeFileSync(file, [`server.document-root = "${dir}"`, ...lines, ''].join('\n'));
  return file;
}

function reader(options: Record<string, number>): OptionReader {
  const values = new Map(Object.entries(options));
  const sources = new Map(Object.keys(options).map((key) => [key, { key, file: 'x.conf', line: 7 }]));
  return new OptionReader(values, sources, 'x.conf');
}

test("max-connections from max-fds as lighttpd: a third by default, half at most, lighttpd's floor of 32 fds", (t) => {
  const budget = (options: Record<string, number>, openFiles = 20_000) =>
    connectionBudget(reader(options), openFiles);
  // Unset: max-fds is the process's limit, at most 4096.
  t.is(budget({}).maxConnections, 1365);
  t.is(budget({}, 1024).maxConnections, 341);
  t.is(budget({ 'server.max-fds': 300 }).maxConnections, 100);
  t.is(budget({ 'server.max-fds': 10 }).maxConnections, 10);
  t.is(budget({ 'server.max-connections': 50, 'server.max-fds': 300 }).maxConnections, 50);
  const capped = budget({ 'server.max-connections': 200, 'server.max-fds': 300 });
  t.is(capped.maxConnections, 150);
  t.deepEqual(capped.warnings, [
    'x.conf:7: server.max-connections = 200 is more than server.max-fds / 2 (150): 150 are served at once, as by lighttpd',
  ]);
  t.deepEqual(budget({ 'server.max-fds': 300 }).warnings, []);
});

test('server.max-fds above what the process may open: used, and named in a warning at start', (t) => {
  const { maxConnections, warnings } = connectionBudget(reader({ 'server.max-fds': 8192 }), 1024);
  t.is(maxConnections, 2730);
  t.is(warnings.length, 1);
  t.regex(
    warnings[0]!,
    /^x\.conf:7: server\.max-fds = 8192 is more than the 1024 files this process may open.*ulimit -n/,
  );
});

test('server.network-backend and server.event-handler: any name lighttpd knows, without a word', (t) => {
  const loaded = loadConfig(
    conf([
      'server.network-backend = "sendfile"',
      'server.event-handler = "linux-sysepoll"',
      'server.max-connections = 100',
      'server.max-fds = 2048',
      'server.max-request-size = 1024',
      'server.range-requests = "enable"',
      'server.max-keep-alive-requests = 100',
      'server.max-keep-alive-idle = 10',
      'server.max-read-idle = 30',
      'server.max-write-idle = 300',
      'server.kbytes-per-second = 1000',
      'connection.kbytes-per-second = 100',
    ]),
  );
  t.deepEqual(loaded.warnings, []);
  t.is(loaded.server.maxConnections, 100);
  t.deepEqual(loaded.server.connectionLimits, {
    maxKeepAliveRequests: 100,
    keepAliveIdleMs: 10_000,
    readIdleMs: 30_000,
    writeIdleMs: 300_000,
  });
});

test('a name lighttpd does not know stops the start at its line, as it stops lighttpd', (t) => {
  const backend = conf(['server.network-backend = "zero-copy"']);
  t.throws(() => loadConfig(backend), {
    instanceOf: ConfigError,
    message: new RegExp(`^${backend}:2: server\\.network-backend: unknown value "zero-copy"`),
  });
  const handler = conf(['server.event-handler = "io_uring"']);
  t.throws(() => loadConfig(handler), {
    instanceOf: ConfigError,
    message: new RegExp(`^${handler}:2: server\\.event-handler: unknown or not supported: "io_uring"`),
  });
});

test("server options inside a condition: lighttpd's warning, and the global value applies", (t) => {
  const file = conf([
    'server.max-connections = 20',
    '$HTTP["url"] =^ "/x" {',
    '  server.max-connections = 3',
    '}',
  ]);
  const loaded = loadConfig(file);
  t.is(loaded.server.maxConnections, 20);
  t.deepEqual(loaded.warnings, [
    `${file}:4: server.max-connections: do not set server options in conditionals (lighttpd: DEPRECATED); the global value applies`,
  ]);
});

test('values lighttpd cannot hold are refused at their line', (t) => {
  for (const line of [
    'server.max-keep-alive-idle = 70000',
    'server.max-read-idle = "-1"',
    'connection.kbytes-per-second = 65536',
    'server.max-request-size = "1k"',
    'server.range-requests = "sometimes"',
  ]) {
    const file = conf([line]);
    const key = line.split(' ')[0]!;
    const error = t.throws(() => loadConfig(file), { instanceOf: ConfigError }, line);
    t.true(error?.message.startsWith(`${file}:2: ${key}: `), error?.message);
  }
});
