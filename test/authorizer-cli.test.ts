/** `koa-lighty authorizer` as users run it: bin/ → dist/ (npm run build first). */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import test from 'ava';
import { makeSite, type Site } from './authorizer-site.js';
import { httpGet } from './helpers/http.js';
import { assertBuilt, BIN, PACKAGE_ROOT, runCli } from './helpers/koa-lighty.js';
import { onFreePort } from './helpers/ports.js';

let site: Site;
test.before(() => {
  site = makeSite();
});
test.after.always(() => site?.remove());

test('without -f, or without an address, it says how to use it and exits 2', async (t) => {
  const noConf = await runCli(['authorizer', '--http', '127.0.0.1:1']);
  t.is(noConf.code, 2);
  t.regex(noConf.stderr, /-f lighttpd\.conf is missing[\s\S]*usage: koa-lighty authorizer/);
  const noAddress = await runCli(['authorizer', '-f', site.confFile]);
  t.is(noAddress.code, 2);
  t.regex(noAddress.stderr, /--fastcgi ADDRESS, --http ADDRESS or both/);
  const badAddress = await runCli(['authorizer', '-f', site.confFile, '--http', 'localhost']);
  t.is(badAddress.code, 2);
  t.regex(badAddress.stderr, /--http: "localhost" is not host:port/);
});

test('--help prints the usage and exits 0; the server usage lists the command', async (t) => {
  const help = await runCli(['authorizer', '--help']);
  t.is(help.code, 0);
  t.regex(help.stdout, /--fastcgi ADDRESS/);
  t.regex((await runCli(['--help'])).stdout, /koa-lighty authorizer -f lighttpd\.conf/);
});

test('a broken conf is refused at start with its file and line', async (t) => {
  const broken = `${site.confFile}.broken`;
  writeFileSync(broken, `server.document-root = "${site.www}"\nurl.access-deny = ( ".inc" \n`);
  const result = await runCli(['authorizer', '-f', broken, '--http', '127.0.0.1:1']);
  t.is(result.code, 1);
  t.true(result.stderr.includes(broken));
});

test('it answers on --http until SIGTERM, then exits 0', async (t) => {
  assertBuilt();
  const running = await onFreePort(
    (port) =>
      new Promise<{ port: number; child: ReturnType<typeof spawn>; exited: Promise<number | null> }>(
        (resolve, reject) => {
          const child = spawn(
            process.execPath,
            [BIN, 'authorizer', '-f', site.confFile, '--http', `127.0.0.1:${port}`],
            { cwd: PACKAGE_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
          );
          const exited = new Promise<number | null>((done) => child.once('exit', done));
          let output = '';
          const onData = (chunk: Buffer) => {
            output += chunk.toString();
            if (output.includes('listening on')) resolve({ port, child, exited });
          };
          child.stdout!.on('data', onData);
          child.stderr!.on('data', onData);
          child.once('close', () => reject(new Error(`it exited before listening:\n${output}`)));
        },
      ),
  );
  t.teardown(() => {
    if (running.child.exitCode === null) process.kill(running.child.pid!, 'SIGKILL');
  });
  const denied = await httpGet(running.port, '/config.inc');
  t.is(denied.status, 403);
  const allowed = await httpGet(running.port, '/index.html');
  t.is(allowed.status, 200);
  t.is(allowed.body.length, 0);
  process.kill(running.child.pid!, 'SIGTERM');
  t.is(await running.exited, 0);
});
