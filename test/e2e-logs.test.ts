/**
 * What an admin looks at around a running `koa-lighty -f lighttpd.conf`: a server bound to a
 * unix socket (server.bind = "/path"), the access log (accesslog.filename, lighttpd's format),
 * the error log (server.errorlog: PHP's error_log() and koa-lighty's own start-up warnings),
 * and `npm start -- --version` from a checkout.
 */
import { existsSync, lstatSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import { type Answer, httpGet } from './helpers/http.js';
import { PACKAGE_ROOT, runCommand, startKoaLighty } from './helpers/koa-lighty.js';

const E2E2 = join(PACKAGE_ROOT, 'fixtures', 'conf', 'e2e2');
const VERSION = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')).version as string;
const dir = mkdtempSync(join(tmpdir(), 'koa-lighty-logs-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const fixture = (...parts: string[]) => readFileSync(join(E2E2, ...parts));

/** The lines of a file once it has at least `count` (log writes are asynchronous), within 3 s. */
async function linesOf(file: string, count: number): Promise<string[]> {
  let lines: string[] = [];
  for (let i = 0; i < 60; i++) {
    lines = existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
    if (lines.length >= count) break;
    await sleep(50);
  }
  return lines;
}

test('server.bind = "/path": HTTP over the unix socket works, and SIGTERM removes the socket file', async (t) => {
  const socketDir = mkdtempSync(join(dir, 'bind-'));
  const socketPath = join(socketDir, 'koa-lighty.sock');
  const server = await startKoaLighty({
    conf: `var.e2e2 = "${E2E2}"\ninclude e2e2 + "/site.conf"\nserver.bind = "${socketPath}"\n`,
  });
  let stopped = false;
  t.teardown(async () => {
    if (!stopped) await server.stop();
  });
  t.regex(server.output(), new RegExp(`listening on unix:${escapeRegex(socketPath)}`));
  t.true(lstatSync(socketPath).isSocket());

  const page = await get({ socketPath }, '/');
  t.is(page.status, 200);
  t.deepEqual(page.body, fixture('www', 'index.html'));
  const movie = await get({ socketPath }, '/downloads/movie.mpg');
  t.is(movie.status, 200);
  t.is(movie.headers['content-type'], 'video/mpeg');
  t.is((await get({ socketPath }, '/missing.txt')).status, 404);

  const code = await server.stop();
  stopped = true;
  t.is(code, 0, server.output());
  t.false(existsSync(socketPath), 'the socket file is left behind');
});

test('accesslog.filename: one line per request in lighttpd’s format %h %V %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"', async (t) => {
  const logDir = mkdtempSync(join(dir, 'access-'));
  const accessLog = join(logDir, 'access.log');
  const server = await startKoaLighty({
    conf:
      `var.e2e2 = "${E2E2}"\ninclude e2e2 + "/site.conf"\nserver.modules += ( "mod_accesslog" )\n` +
      `accesslog.filename = "${accessLog}"\nserver.port = PORT\nserver.bind = "127.0.0.1"\n`,
  });
  t.teardown(() => server.stop());
  const host = `127.0.0.1:${server.port}`;

  const index = await get({ port: server.port }, '/index.html', {
    Referer: 'http://www.example.org/page',
    'User-Agent': 'e2e-agent/1.0 (first)',
  });
  t.is(index.status, 200);
  const missing = await get({ port: server.port }, '/missing.txt?x=1', { 'User-Agent': 'e2e-agent/2.0' });
  t.is(missing.status, 404);
  const movie = await get({ port: server.port }, '/downloads/movie.mpg', {
    Referer: 'http://127.0.0.1/',
    'User-Agent': 'e2e-agent/3.0',
  });
  t.is(movie.status, 200);

  const lines = await linesOf(accessLog, 3);
  t.is(lines.length, 3, lines.join('\n'));
  const date = String.raw`\[\d{2}/(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\]`;
  const h = escapeRegex(host);
  const expected = [
    new RegExp(
      `^127\\.0\\.0\\.1 ${h} - ${date} "GET /index\\.html HTTP/1\\.1" 200 ${index.body.length} "http://www\\.example\\.org/page" "e2e-agent/1\\.0 \\(first\\)"$`,
    ),
    new RegExp(
      `^127\\.0\\.0\\.1 ${h} - ${date} "GET /missing\\.txt\\?x=1 HTTP/1\\.1" 404 (\\d+|-) "-" "e2e-agent/2\\.0"$`,
    ),
    new RegExp(
      `^127\\.0\\.0\\.1 ${h} - ${date} "GET /downloads/movie\\.mpg HTTP/1\\.1" 200 ${movie.body.length} "http://127\\.0\\.0\\.1/" "e2e-agent/3\\.0"$`,
    ),
  ];
  // Requests were sent one after the other: the lines come in that order.
  for (const [i, pattern] of expected.entries()) t.regex(lines[i] ?? '', pattern);
  // %b of the 404 is the size of the error page that was sent.
  const notFoundBytes = /" 404 (\d+|-) /.exec(lines[1] ?? '')?.[1];
  t.is(notFoundBytes, missing.body.length === 0 ? '-' : String(missing.body.length));
});

test('server.errorlog: PHP’s error_log() lines and koa-lighty’s warning for an unsupported option', async (t) => {
  const logDir = mkdtempSync(join(dir, 'error-'));
  const errorLog = join(logDir, 'error.log');
  const server = await startKoaLighty({
    conf:
      `var.e2e2 = "${E2E2}"\nvar.sockdir = "${logDir}"\ninclude e2e2 + "/site.conf"\ninclude e2e2 + "/php.conf"\n` +
      `server.errorlog = "${errorLog}"\nserver.error-intercept = "enable"\nserver.port = PORT\nserver.bind = "127.0.0.1"\n`,
  });
  t.teardown(() => server.stop());

  const logged = await get({ port: server.port }, '/log.php?tag=e2e-marker-7f3a');
  t.is(logged.status, 200);
  t.is(logged.body.toString(), 'logged e2e-marker-7f3a\n');

  let text = '';
  for (let i = 0; i < 60 && !text.includes('e2e-marker-7f3a'); i++) {
    await sleep(50);
    text = existsSync(errorLog) ? readFileSync(errorLog, 'utf8') : '';
  }
  const lines = text.split('\n');
  const php = lines.filter((line) => line.includes('e2e2 log.php says: e2e-marker-7f3a'));
  t.is(php.length, 1, text);
  // lighttpd's error log format: "YYYY-MM-DD HH:MM:SS: (source) message".
  t.regex(php[0] ?? '', /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}: \(\S+\) /);
  const warnings = lines.filter((line) => line.includes('server.error-intercept'));
  t.is(warnings.length, 1, text);
  t.regex(warnings[0] ?? '', /warning/i);
  t.regex(warnings[0] ?? '', /not supported/);
  t.regex(warnings[0] ?? '', /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}: /);
});

test('npm start -- --version prints the version', async (t) => {
  const result = await runCommand('npm', ['start', '--', '--version'], { timeoutMs: 60_000 });
  t.is(result.code, 0, result.stderr);
  t.regex(result.stdout, new RegExp(`^koa-lighty/${escapeRegex(VERSION)}\\b`, 'm'), result.stdout);
});

function get(
  where: { port: number } | { socketPath: string },
  path: string,
  headers: Record<string, string> = {},
): Promise<Answer> {
  return httpGet(where, path, { headers });
}
