/**
 * mod_accesslog's options at start, checked against `lighttpd -tt` on the same file: a format
 * lighttpd refuses is a ConfigError at its line with lighttpd's reason, one it accepts loads.
 * Then what lighttpd has and koa-lighty does differently on purpose (syslog), a log file that
 * cannot be opened, a `|program` that exits, and the middleware used from Koa.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import Koa from 'koa';
import { ConfigError } from '../src/config/errors.js';
import { OptionError } from '../src/option-error.js';
import { accessLog } from '../src/server/access-log.js';
import { createApp, loadConfig } from '../src/server/app.js';
import { rawRequest, serve } from './helpers/http.js';
import { FIXTURE_WWW, LIGHTTPD, startLighttpd } from './helpers/lighttpd.js';
import { startBoth } from './helpers/same-conf.js';
import { eventually } from './helpers/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'koa-lighty-accesslog-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
/** A config file whose line 3 is `accesslog.format = "<format>"` (written as in a config). */
function confWith(lines: string): string {
  const file = join(dir, `conf-${files++}.conf`);
  writeFileSync(
    file,
    `server.document-root = "${FIXTURE_WWW}"\nserver.modules = ( "mod_accesslog" )\n${lines}\n`,
  );
  return file;
}

/** lighttpd -tt: undefined when it accepts the file, else its first reason. */
function lighttpdRefusal(file: string): string | undefined {
  try {
    execFileSync(LIGHTTPD, ['-tt', '-f', file], { stdio: 'pipe' });
    return undefined;
  } catch (error) {
    const stderr = String((error as { stderr?: Buffer }).stderr ?? '');
    return /\(mod_accesslog\.c\.\d+\) (.*)/.exec(stderr)?.[1] ?? stderr;
  }
}

const REFUSED = [
  '',
  '%',
  '%{',
  '%{}i',
  '%Z',
  '%{foo}T',
  '%{x}p',
  '%{abc}t',
  '%{begin:}t',
  '%t %t',
  '%{%s}t %{sec}t',
  '%>',
  '%{x}',
  '%{x}>s',
  '%{x}j',
  `${'%s'.repeat(127)}x`,
];

for (const format of REFUSED) {
  test(`accesslog.format = "${format.length > 20 ? `${format.slice(0, 20)}…` : format}" is refused at its line, as by lighttpd`, (t) => {
    const file = confWith(`accesslog.format = "${format}"`);
    const reason = lighttpdRefusal(file);
    t.not(reason, undefined, 'lighttpd accepts it');
    const error = t.throws(() => loadConfig(file), { instanceOf: ConfigError });
    t.is(error.line, 3);
    t.true(error.message.startsWith(`${file}:3: accesslog.format: `), error.message);
    // lighttpd's reason, without what it appends after ': ' (the format again).
    t.true(error.message.includes(reason!.replace(/: .*$/, '')), `${error.message} / lighttpd: ${reason}`);
  });
}

const ACCEPTED = [
  '%{x}%|%{y}l|%P|%C|%<s|%>%|%{foo}s',
  '%{begin:sec}t %{msec}t %{usec}t %{nsec_frac}t',
  '%{%Y}t %{begin:msec}t %{end:usec}t',
  `${'%s'.repeat(126)}x`,
  '\\t%s\\q\\\\x',
];

for (const format of ACCEPTED) {
  test(`accesslog.format = "${format.length > 20 ? `${format.slice(0, 20)}…` : format}" is accepted, as by lighttpd`, (t) => {
    const file = confWith(`accesslog.format = "${format}"`);
    t.is(lighttpdRefusal(file), undefined);
    t.notThrows(() => loadConfig(file));
  });
}

test('a bad format inside a block is refused at the block’s line', (t) => {
  const file = confWith(
    `accesslog.filename = "${dir}/a.log"\n$HTTP["url"] =~ "^/x" {\n  accesslog.format = "%{x}T"\n}`,
  );
  t.not(lighttpdRefusal(file), undefined);
  const error = t.throws(() => loadConfig(file), { instanceOf: ConfigError });
  t.is(error.line, 5);
});

test('accesslog.use-syslog = "enable" is refused at its line, with the pipe to logger(1) to use instead', (t) => {
  const file = confWith('accesslog.use-syslog = "enable"');
  t.is(lighttpdRefusal(file), undefined, 'lighttpd writes to syslog(3)');
  const error = t.throws(() => loadConfig(file), { instanceOf: ConfigError });
  t.is(error.line, 3);
  t.regex(error.message, /syslog/);
  t.regex(error.message, /\|\/usr\/bin\/logger/);
  t.notThrows(() => loadConfig(confWith('accesslog.use-syslog = "disable"\naccesslog.syslog-level = 5')));
});

test('an access log that cannot be opened stops the start at accesslog.filename’s line, as in lighttpd', async (t) => {
  const missing = join(dir, 'no-such-dir', 'access.log');
  const conf = `accesslog.filename = "${missing}"`;
  await t.throwsAsync(
    startLighttpd(`server.document-root = "${FIXTURE_WWW}"\nserver.modules = ( "mod_accesslog" )\n${conf}`),
    {
      message: /opening log .* failed/,
    },
  );
  const file = confWith(conf);
  const loaded = loadConfig(file);
  const error = t.throws(() => createApp(loaded), { instanceOf: ConfigError });
  t.is(error.line, 3);
  t.regex(error.message, /opening log '.*access\.log' failed/);
});

test('a |program that exits is started again (5 s after its last start) and gets the lines written meanwhile', async (t) => {
  const servers = await startBoth(
    (sockdir) =>
      `server.document-root = "${FIXTURE_WWW}"\nserver.modules = ( "mod_accesslog" )\n` +
      // One line, then it exits: each further line needs a new one.
      `accesslog.filename = "|read line; echo \\"$line\\" >> ${sockdir}/once.log"\naccesslog.format = "%s %U"\n`,
  );
  t.teardown(() => servers.close());
  const lines = (which: string) => {
    const file = join(which, 'once.log');
    return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
  };
  for (const path of ['/index.html', '/missing']) {
    await Promise.all([rawRequest(servers.lighttpd.port, path), rawRequest(servers.koaPort, path)]);
    // The first line is in before the second request goes (lighttpd flushes pipes at once).
    if (path === '/index.html') await eventually(() => lines(servers.dirs.koa).length === 1, 10_000);
  }
  t.true(
    await eventually(() => lines(servers.dirs.koa).length === 2, 15_000),
    lines(servers.dirs.koa).join('\n'),
  );
  t.deepEqual(lines(servers.dirs.koa), ['200 /index.html', '404 /missing']);
  // lighttpd wrote the same first line; a program that died within 5 s of its start it only
  // starts again at its next 64-second housekeeping tick, too long to wait for here.
  t.deepEqual(lines(servers.dirs.lighttpd).slice(0, 1), ['200 /index.html']);
  t.true(
    servers.koaLog.lines.some((line) => line.includes('exited')),
    servers.koaLog.lines.join('\n'),
  );
});

test('from Koa: accessLog({ output, format, escaping }) writes one line per response', async (t) => {
  const lines: string[] = [];
  const app = new Koa();
  app.use(
    accessLog({
      output: { write: (line) => lines.push(line.toString('latin1')) },
      format: '%s %m "%r" %b %{X-Who}i',
    }),
  );
  app.use((ctx) => {
    ctx.body = 'hello';
  });
  const served = await serve(app);
  t.teardown(() => served.close());
  await rawRequest(served.port, '/page?x=1', { 'X-Who': 'a "b"' });
  t.true(await eventually(() => lines.length === 1));
  t.deepEqual(lines, ['200 GET "GET /page?x=1 HTTP/1.1" 5 a \\"b\\"\n']);
  t.throws(() => accessLog({ output: { write() {} }, format: '%{x}T' }), {
    instanceOf: OptionError,
    message: /invalid time unit/,
  });
});
