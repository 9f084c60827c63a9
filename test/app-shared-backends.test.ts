/**
 * A block that changes an option the FastCGI stage reads (server.name, server.tag,
 * fastcgi.debug, …) gets its own stage, but not its own php-cgi: one process and one pool per
 * fastcgi.server address for the whole app. Two would spawn twice on one socket (the second
 * removes the first one's socket file) and open more connections than php-cgi has workers.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { memoryLogger } from '../src/log.js';
import { createApp, loadConfig } from '../src/server/app.js';
import { rawRequest, serve } from './helpers/http.js';

/** php-cgi processes this test process spawned itself (their workers are their children, not ours). */
function ourPhpCgi(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && name === 'php-cgi') pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

test('blocks that differ in FastCGI options share one spawned php-cgi', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'koa-lighty-shared-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'name.php'), '<?php echo $_SERVER["SERVER_NAME"], " ", getmypid();');
  const socket = join(dir, 'php.socket');
  const conf = join(dir, 'lighttpd.conf');
  writeFileSync(
    conf,
    `server.document-root = "${dir}"
server.modules = ("mod_fastcgi")
fastcgi.server = (".php" => ((
  "bin-path" => "/usr/bin/php-cgi", "socket" => "${socket}", "max-procs" => 1,
  "bin-environment" => ("PHP_FCGI_CHILDREN" => "1"),
)))
$HTTP["querystring"] == "b" { server.name = "b.example" }
$HTTP["querystring"] == "c" { server.tag = "c" }
`,
  );
  const lighty = createApp(loadConfig(conf), { log: memoryLogger() });
  t.teardown(() => lighty.close());
  await lighty.ready();
  const served = await serve(lighty.app);
  t.teardown(() => served.close());

  const answers = await Promise.all(
    ['/name.php', '/name.php?b', '/name.php?c'].map((p) => rawRequest(served.port, p)),
  );
  t.deepEqual(
    answers.map((a) => a.status),
    [200, 200, 200],
  );
  const [plain, b] = answers.map((a) => a.body.toString().split(' '));
  t.is(plain![0], '127.0.0.1');
  t.is(b![0], 'b.example');
  // PHP_FCGI_CHILDREN=1: one worker answers every block.
  t.is(new Set(answers.map((a) => a.body.toString().split(' ')[1])).size, 1);
  // Counted once PHP has answered: a process just spawned may not carry its name yet.
  t.is(ourPhpCgi().length, 1, 'one php-cgi spawned for the socket');
});
