/**
 * The `koa-lighty` command as a user types it (`node bin/koa-lighty.js …`, which is what the
 * package's bin runs): help, version, -t, -p, the one-line errors for a bad file, a missing
 * document root and a busy port, the warning for an unsupported option, and a clean stop on
 * SIGTERM/SIGINT that takes the spawned php-cgi along.
 */
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { rawRequest } from './helpers/http.js';
import {
  BIN,
  descendantPids,
  PACKAGE_ROOT,
  processName,
  runCli,
  runCommand,
  startKoaLighty,
  stillAlive,
} from './helpers/koa-lighty.js';
import { freePort, socketHolders, unixListenerInodes } from './helpers/ports.js';
import { eventually } from './helpers/wait.js';

const E2E = join(PACKAGE_ROOT, 'fixtures', 'conf', 'e2e');
const VERSION = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')).version as string;

const dir = mkdtempSync(join(tmpdir(), 'koa-lighty-cli-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

/** Writes a config file under the test's temp dir and returns its path. */
function write(name: string, text: string): string {
  const path = join(dir, name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
  return path;
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** "FILE:LINE" or "FILE line LINE": the message must name both. */
const namesLine = (file: string, line: number) => new RegExp(`${escapeRegex(file)}(:| line:? )${line}\\b`);

const goodConf = () =>
  write(
    'good.conf',
    `var.e2e = "${E2E}"\ninclude "${join(E2E, 'access.conf')}"\nserver.port = 8081\nserver.bind = "127.0.0.1"\n`,
  );

test('--help prints the usage and exits 0', async (t) => {
  for (const flag of ['--help', '-h']) {
    const r = await runCli([flag]);
    t.is(r.code, 0, flag);
    t.regex(r.stdout, /^usage: koa-lighty /);
    for (const option of ['-f FILE', '-D', '-t', '-p', '--workers N', '--version', 'secdownload-url']) {
      t.true(r.stdout.includes(option), `${flag} mentions ${option}`);
    }
    t.is(r.stderr, '');
  }
});

test('--version prints the package version and exits 0', async (t) => {
  for (const flag of ['--version', '-v']) {
    const r = await runCli([flag]);
    t.is(r.code, 0, flag);
    t.regex(r.stdout, new RegExp(`^koa-lighty/${escapeRegex(VERSION)}\\b`));
    t.is(r.stdout.trim().split('\n').length, 1);
  }
});

test('-V lists the features the way lighttpd -V does, for scripts that read it', async (t) => {
  const r = await runCli(['-V']);
  t.is(r.code, 0);
  t.regex(r.stdout, new RegExp(`^koa-lighty/${escapeRegex(VERSION)}\\b`));
  // lighttpd's own test suite looks for exactly these ("[+-] NAME support").
  for (const feature of ['IPv6 support', 'PCRE support', 'OpenSSL support'])
    t.regex(r.stdout, new RegExp(`\\t\\+ ${feature}`), feature);
});

test('the bin runs as a command of its own (its shebang), as `koa-lighty` after npm install', async (t) => {
  const r = await runCommand(BIN, ['--version']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, new RegExp(`^koa-lighty/${escapeRegex(VERSION)}\\b`));
});

test('an unknown argument: exit 2 with the usage, naming the argument', async (t) => {
  const r = await runCli(['--frobnicate']);
  t.is(r.code, 2);
  t.regex(r.stderr, /--frobnicate/);
  t.regex(r.stderr, /usage: koa-lighty/);
});

test('-t on a good file: "Syntax OK", exit 0, nothing started', async (t) => {
  const file = goodConf();
  for (const flag of ['-t', '-tt']) {
    const r = await runCli([flag, '-f', file]);
    t.is(r.code, 0, `${flag}: ${r.stderr}`);
    t.regex(r.stdout, /Syntax OK/);
    t.notRegex(r.stdout, /listening/);
  }
});

test('-t on the bundled demo config and on -D -t: exit 0', async (t) => {
  const r = await runCli(['-D', '-t', '-f', join(PACKAGE_ROOT, 'fixtures', 'demo', 'lighttpd.conf')]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /Syntax OK/);
});

test('-t on malformed files: non-zero, and the message names the file and the line', async (t) => {
  const cases: Array<{ name: string; files: Record<string, string>; badFile: string; line: number }> = [
    {
      name: 'an unclosed list',
      files: {
        'bad-list.conf':
          'server.document-root = "/tmp"\nserver.port = 8081\n\nurl.access-deny = ( "~", ".inc"\nserver.tag = "x"\n',
      },
      badFile: 'bad-list.conf',
      line: 5,
    },
    {
      name: 'an invalid trigger-before-download regex',
      files: {
        'bad-trigger.conf':
          'server.document-root = "/tmp"\nserver.modules = ("mod_trigger_b4_dl")\n' +
          'trigger-before-download.memory-store = "enable"\ntrigger-before-download.deny-url = "/"\n' +
          'trigger-before-download.download-url = "\\.mpg$"\ntrigger-before-download.trigger-url = "(/$|\\.php"\n',
      },
      badFile: 'bad-trigger.conf',
      line: 6,
    },
    {
      name: 'an unterminated string',
      files: { 'bad-string.conf': 'server.document-root = "/tmp"\nserver.tag = "oops\nserver.port = 8081\n' },
      badFile: 'bad-string.conf',
      line: 2,
    },
    {
      name: 'an unknown condition field',
      files: {
        'bad-cond.conf':
          'server.document-root = "/tmp"\n# a comment\n$HTTP["nosuchfield"] == "x" {\n  url.access-deny = ( ".inc" )\n}\n',
      },
      badFile: 'bad-cond.conf',
      line: 3,
    },
    {
      name: 'the same key twice with = in one block',
      files: { 'bad-dup.conf': 'server.document-root = "/tmp"\nserver.tag = "a"\nserver.tag = "b"\n' },
      badFile: 'bad-dup.conf',
      line: 3,
    },
    {
      name: 'an error inside an included file',
      files: {
        'main-inc.conf': 'server.document-root = "/tmp"\nserver.port = 8081\ninclude "inc/part.conf"\n',
        'inc/part.conf': '# included part\nserver.tag = "ok"\nurl.access-deny = = ( ".inc" )\n',
      },
      badFile: 'inc/part.conf',
      line: 3,
    },
  ];
  for (const c of cases) {
    const paths = Object.fromEntries(
      Object.entries(c.files).map(([name, text]) => [name, write(name, text)]),
    );
    const main = paths[Object.keys(c.files)[0]!]!;
    const r = await runCli(['-t', '-f', main]);
    t.not(r.code, 0, `${c.name}: exit code`);
    t.notRegex(r.stdout, /Syntax OK/, c.name);
    t.regex(r.stderr, namesLine(paths[c.badFile]!, c.line), `${c.name}: ${r.stderr}`);
    t.notRegex(r.stderr, /\n\s+at /, `${c.name}: no stack trace`);
  }
});

test('-p prints the effective configuration as JSON', async (t) => {
  const r = await runCli(['-p', '-f', goodConf()]);
  t.is(r.code, 0, r.stderr);
  const printed = JSON.parse(r.stdout) as {
    options: Record<string, unknown>;
    blocks: Array<{ condition: string }>;
  };
  t.is(printed.options['server.document-root'], join(E2E, 'www'));
  t.is(printed.options['server.port'], 8081);
  t.deepEqual(printed.options['url.access-deny'], ['~', '.inc']);
  t.deepEqual(printed.options['index-file.names'], ['index.php', 'index.html']);
  t.true(
    printed.blocks.some((b) => b.condition === '$HTTP["referer"] !~ "^($|http://www\\.example\\.org)"'),
    'the hotlink block is printed',
  );
});

test('a missing document root: one clear line naming it, non-zero exit', async (t) => {
  const missing = join(dir, 'no-such-docroot');
  const file = write(
    'nodocroot.conf',
    `server.document-root = "${missing}"\nserver.port = ${await freePort()}\nserver.bind = "127.0.0.1"\n`,
  );
  for (const args of [
    ['-f', file],
    ['-t', '-f', file],
  ]) {
    const r = await runCli(args);
    t.not(r.code, 0, args.join(' '));
    const lines = r.stderr.trim().split('\n');
    t.is(lines.length, 1, r.stderr);
    t.regex(lines[0]!, new RegExp(escapeRegex(missing)));
    t.regex(lines[0]!, /document-root/);
    t.notRegex(r.stdout, /listening/);
  }
});

test('a busy port: one clear line naming the address, non-zero exit, no php-cgi left behind', async (t) => {
  const port = await freePort();
  const blocker: Server = createServer();
  await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  const sockdir = mkdtempSync(join(tmpdir(), 'koa-lighty-busy-'));
  t.teardown(() => rmSync(sockdir, { recursive: true, force: true }));
  const file = write(
    'busy.conf',
    `var.e2e = "${E2E}"\nvar.sockdir = "${sockdir}"\ninclude "${join(E2E, 'php.conf')}"\nserver.port = ${port}\nserver.bind = "127.0.0.1"\n`,
  );
  const r = await runCli(['-f', file]);
  t.not(r.code, 0);
  const lines = r.stderr.trim().split('\n');
  t.is(lines.length, 1, r.stderr);
  t.regex(lines[0]!, new RegExp(`127\\.0\\.0\\.1:${port}`));
  t.regex(lines[0]!, /already in use/);
  // Nothing of ours may keep running: no php-cgi serving this test's sockets.
  const leftovers = phpCgiUsing(sockdir);
  t.deepEqual(leftovers, [], 'php-cgi processes still running for the failed start');
});

test('an unsupported option: exactly one warning naming it, and the server still runs', async (t) => {
  const server = await startKoaLighty({
    args: ['-D'],
    conf:
      `var.e2e = "${E2E}"\ninclude "${join(E2E, 'access.conf')}"\n` +
      'server.error-intercept = "enable"\n' +
      '$HTTP["url"] =^ "/sub/" {\n  server.error-intercept = "disable"\n}\n' +
      'server.port = PORT\nserver.bind = "127.0.0.1"\n',
  });
  t.teardown(() => server.stop());
  const response = await rawRequest(server.port, '/index.html');
  t.is(response.status, 200);
  const mentions = server
    .output()
    .split('\n')
    .filter((line) => line.includes('server.error-intercept'));
  t.is(mentions.length, 1, server.output());
  t.regex(mentions[0]!, /warning/i);
  t.regex(mentions[0]!, /not supported/);
});

test('SIGTERM: exit 0, and the spawned php-cgi processes and their sockets are gone', async (t) => {
  const sockdir = mkdtempSync(join(tmpdir(), 'koa-lighty-stop-'));
  t.teardown(() => rmSync(sockdir, { recursive: true, force: true }));
  const server = await startKoaLighty({
    conf: `var.e2e = "${E2E}"\nvar.sockdir = "${sockdir}"\ninclude "${join(E2E, 'php.conf')}"\nserver.port = PORT\nserver.bind = "127.0.0.1"\n`,
  });
  let stopped = false;
  t.teardown(async () => {
    if (!stopped) await server.stop();
  });
  // PHP answers: php-cgi was spawned by koa-lighty.
  const page = await rawRequest(server.port, '/app/echo.php?x=1');
  t.is(page.status, 200);
  t.regex(page.body.toString(), /get: \{"x":"1"\}/);
  const phpCgi = () => descendantPids(server.pid).filter((pid) => processName(pid) === 'php-cgi');
  // two backends (php.conf's main one with PHP_FCGI_CHILDREN=2, the /app/plain/ one with 1):
  // masters + workers. A master forks its workers after it starts listening: on a loaded
  // machine the last one may come a moment after the first answer.
  await eventually(() => phpCgi().length >= 5, 30_000);
  const php = phpCgi();
  t.true(php.length >= 5, `php-cgi children of koa-lighty: ${php.join(', ')}`);
  const sockets = socketsIn(sockdir);
  t.true(sockets.length >= 2, `sockets: ${sockets.join(', ')}`);

  const code = await server.stop();
  stopped = true;
  t.is(code, 0, server.output());
  t.deepEqual(await stillAlive(php), [], 'php-cgi processes left running');
  t.deepEqual(socketsIn(sockdir), [], 'unix socket files left behind');
});

test('SIGINT (Ctrl-C) stops it cleanly too: exit 0', async (t) => {
  const server = await startKoaLighty({
    conf: `var.e2e = "${E2E}"\ninclude "${join(E2E, 'access.conf')}"\nserver.port = PORT\nserver.bind = "127.0.0.1"\n`,
  });
  // At once: the handlers are in place before "listening on" is printed (a signal in between
  // would get Node's default action, exit 130).
  process.kill(server.pid, 'SIGINT');
  const deadline = Date.now() + 5000;
  while (processName(server.pid) !== undefined && Date.now() < deadline) await sleep(50);
  const code = await server.stop();
  t.is(code, 0, `exit code ${code} after SIGINT; output:\n${server.output()}`);
});

function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function socketsIn(path: string): string[] {
  return readdirSync(path).filter((name) => lstatSync(join(path, name)).isSocket());
}

/** Live processes holding a listening unix socket under `prefix`: the php-cgi we spawned there. */
function phpCgiUsing(prefix: string): number[] {
  return socketHolders(unixListenerInodes((bound) => bound.startsWith(prefix))).filter(
    (pid) => processName(pid) !== undefined,
  );
}
