/**
 * The Koa example in the README (examples/koa-php.ts, imported as a user would, from the
 * package name) really serves PHP, send-file, access rules and static files.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { PACKAGE_ROOT } from './helpers/koa-lighty.js';
import { freePort } from './helpers/ports.js';

test('the README Koa example serves PHP, X-LIGHTTPD-send-file, denies .inc, and stops php-cgi on SIGTERM', async (t) => {
  const readme = readFileSync(join(PACKAGE_ROOT, 'README.md'), 'utf8');
  t.true(readme.includes("import { accessDeny, fastcgi, lighttpdErrors, staticFiles } from 'koa-lighty';"));
  const dir = mkdtempSync(join(tmpdir(), 'koa-lighty-example-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  const demo = join(PACKAGE_ROOT, 'fixtures', 'demo');
  const child = spawn(process.execPath, ['--import', 'tsx', join(PACKAGE_ROOT, 'examples', 'koa-php.ts')], {
    cwd: PACKAGE_ROOT,
    env: {
      ...process.env,
      DOCUMENT_ROOT: join(demo, 'www'),
      PROTECTED: join(demo, 'protected'),
      PHP_SOCKET: join(dir, 'php.sock'),
      PORT: String(port),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c) => {
    output += c;
  });
  child.stderr.on('data', (c) => {
    output += c;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const deadline = Date.now() + 20_000;
  while (!output.includes('listening')) {
    if (Date.now() > deadline || child.exitCode !== null) t.fail(`the example did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const base = `http://127.0.0.1:${port}`;
  const home = await fetch(`${base}/`);
  t.is(home.status, 200);
  t.regex(await home.text(), /This page is PHP 8/);
  const report = await fetch(`${base}/report.php`);
  t.is(report.status, 200);
  t.regex(await report.text(), /X-LIGHTTPD-send-file/);
  t.false([...report.headers.keys()].some((name) => name.startsWith('x-lighttpd')));
  t.is((await fetch(`${base}/secret.inc`)).status, 403);
  const css = await fetch(`${base}/style.css`);
  t.is(css.status, 200);
  child.kill('SIGTERM');
  t.is(await exited, 0);
});
