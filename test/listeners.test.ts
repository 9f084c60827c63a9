/**
 * lighttpd.conf → listeners (src/server/listeners.ts): which sockets a config asks for, how
 * they are spelled for `$SERVER["socket"]`, and the mistakes refused at their line.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { ConfigError } from '../src/config/errors.js';
import { loadConfig } from '../src/server/app.js';

const dir = mkdtempSync(join(tmpdir(), 'koa-lighty-listeners-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

function listenersOf(text: string) {
  const file = join(dir, `${Math.random().toString(36).slice(2)}.conf`);
  writeFileSync(file, `server.document-root = "${dir}"\n${text}`);
  return { file, load: () => loadConfig(file).listeners };
}

test('server.bind/server.port first, then each $SERVER["socket"] == block; one socket per address', (t) => {
  const { load } = listenersOf(`server.port = 8080
$SERVER["socket"] == ":8443" { }
$SERVER["socket"] == "[::1]:8444" { }
$SERVER["socket"] == "[::]:8443" { }
$SERVER["socket"] == "0.0.0.0:8443" { }
$SERVER["socket"] != ":9999" { }
$SERVER["socket"] == ":8080" { }
`);
  t.deepEqual(
    load().map((l) => [l.token, l.address]),
    [
      [':8080', { host: '0.0.0.0', port: 8080 }],
      [':8443', { host: '0.0.0.0', port: 8443 }],
      ['[::1]:8444', { host: '::1', port: 8444 }],
      ['[::]:8443', { host: '::', port: 8443 }],
    ],
  );
});

test('a socket that is no address is refused at its block', (t) => {
  const { file, load } = listenersOf('server.port = 8080\n$SERVER["socket"] == "::1:443" { }\n');
  const error = t.throws(load, { instanceOf: ConfigError });
  t.regex(error.message, new RegExp(`^${file}:3: .*brackets`));
  const port = listenersOf('server.port = 8080\n\n$SERVER["socket"] == ":http" { }\n');
  t.regex(
    t.throws(port.load, { instanceOf: ConfigError }).message,
    new RegExp(`^${port.file}:4: .*not a port`),
  );
});

test('socket-only TLS options elsewhere, and a certificate the handshake cannot choose, are warned about at their line', (t) => {
  const { file } = listenersOf(`server.port = 8080
$HTTP["host"] == "a.test" {
  ssl.engine = "enable"
}
$HTTP["url"] =^ "/shop/" {
  $HTTP["host"] == "b.test" {
    ssl.pemfile = "/nowhere.pem"
  }
}
`);
  const { warnings } = loadConfig(file);
  t.true(
    warnings.includes(
      `${file}:4: ssl.engine is valid only in global scope or a $SERVER["socket"] block (ignored here, as by lighttpd)`,
    ),
    warnings.join('\n'),
  );
  t.false(
    warnings.some((w) => w.includes('never chosen')),
    'no TLS listener: nothing to choose',
  );
});
