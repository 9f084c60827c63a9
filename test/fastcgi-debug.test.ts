/**
 * fastcgi.debug (lighttpd's gw_backend debug lines, at a useful level): per request, the key
 * and host chosen, the connection used (new or kept), the backend's status and the end of the
 * exchange, in the error log. Never the query string (it may hold tokens). Per block, as in
 * lighttpd.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { ConfigError } from '../src/config/errors.js';
import { memoryLogger } from '../src/log.js';
import { createApp, loadConfig } from '../src/server/app.js';
import { rawRequest, serve } from './helpers/http.js';
import { eventually } from './helpers/wait.js';

function site(t: import('ava').ExecutionContext, debug: string) {
  const dir = mkdtempSync(join(tmpdir(), 'koa-lighty-fcgi-debug-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'quiet'));
  writeFileSync(join(dir, 'a.php'), '<?php echo "a";');
  writeFileSync(join(dir, 'quiet', 'a.php'), '<?php echo "quiet";');
  const socket = join(dir, 'php.socket');
  const conf = join(dir, 'lighttpd.conf');
  writeFileSync(
    conf,
    `server.document-root = "${dir}"
server.modules = ("mod_fastcgi")
fastcgi.debug = ${debug}
fastcgi.server = (".php" => ((
  "bin-path" => "/usr/bin/php-cgi", "socket" => "${socket}", "max-procs" => 1,
  "bin-environment" => ("PHP_FCGI_CHILDREN" => "1"),
)))
$HTTP["url"] =^ "/quiet/" { fastcgi.debug = 0 }
`,
  );
  return { conf, socket };
}

async function running(t: import('ava').ExecutionContext, debug: string) {
  const { conf, socket } = site(t, debug);
  const log = memoryLogger();
  const lighty = createApp(loadConfig(conf), { log });
  t.teardown(() => lighty.close());
  await lighty.ready();
  const served = await serve(lighty.app);
  t.teardown(() => served.close());
  return { log, port: served.port, label: socket };
}

test('each request logs the host chosen, the connection and the end of the exchange', async (t) => {
  const { log, port, label } = await running(t, '1');
  const first = await rawRequest(port, '/a.php?token=s3cret');
  t.is(first.status, 200);
  const ended = (n: number) => () =>
    log.lines.filter((line) => line.includes('ended with app status')).length >= n;
  t.true(await eventually(ended(1)), log.lines.join('\n'));
  await rawRequest(port, '/a.php');
  t.true(await eventually(ended(2)), log.lines.join('\n'));
  t.deepEqual(
    log.lines.filter((line) => line.startsWith('(fastcgi) GET /a.php')),
    [
      `(fastcgi) GET /a.php: .php → ${label}, load 0`,
      `(fastcgi) GET /a.php: ${label}: new connection`,
      `(fastcgi) GET /a.php: ${label}: answered 200, ended with app status 0; load 0`,
      `(fastcgi) GET /a.php: .php → ${label}, load 0`,
      `(fastcgi) GET /a.php: ${label}: kept connection`,
      `(fastcgi) GET /a.php: ${label}: answered 200, ended with app status 0; load 0`,
    ],
  );
  t.false(log.lines.some((line) => line.includes('s3cret')));
});

test('a block can switch it off; "enable" is 1', async (t) => {
  const { log, port } = await running(t, '"enable"');
  t.is((await rawRequest(port, '/quiet/a.php')).status, 200);
  t.is((await rawRequest(port, '/a.php')).status, 200);
  t.true(await eventually(() => log.lines.some((line) => line.includes('GET /a.php: .php →'))));
  t.false(log.lines.some((line) => line.includes('/quiet/')));
});

test('a value that is neither a number nor enable/disable is a config error at its line', (t) => {
  const { conf } = site(t, '"loud"');
  const error = t.throws(() => loadConfig(conf), { instanceOf: ConfigError });
  t.regex(error!.message, /lighttpd\.conf:3: fastcgi\.debug: expected a number/);
});
