/**
 * bin-path programs that are not php-cgi, as a user runs them: `koa-lighty -f lighttpd.conf`
 * next to Debian's lighttpd on the same conf. A FastCGI app built on node-fastcgi (it accepts
 * on its fd 0, as libfcgi and flup programs do) answers through both servers alike, over a unix
 * socket and over TCP. A program that exits at once costs its own route a 503 and a log line
 * naming it, and nothing else: koa-lighty keeps running and serving its other routes.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { type RawResponse, rawRequest } from './helpers/http.js';
import {
  isNodeProcess,
  PACKAGE_ROOT,
  type RunningKoaLighty,
  runCli,
  startKoaLighty,
} from './helpers/koa-lighty.js';
import { type RunningLighttpd, startLighttpd } from './helpers/lighttpd.js';
import { freePort, listensOn, socketHolders, unixListenerInodes } from './helpers/ports.js';
import { eventually } from './helpers/wait.js';

const RESPONDER = join(PACKAGE_ROOT, 'fixtures', 'fastcgi', 'node-responder.mjs');
const EXITS_AT_ONCE = join(PACKAGE_ROOT, 'fixtures', 'fastcgi', 'exit-at-once.sh');

function tempDir(t: ExecutionContext, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A document root with one static file, for "the other routes still answer". */
function docroot(t: ExecutionContext): string {
  const dir = tempDir(t, 'koa-lighty-binpath-www-');
  writeFileSync(join(dir, 'index.html'), 'static\n');
  return dir;
}

/** Where a host block listens: `"socket" => …` or `"host" => …, "port" => …`. */
type Listen = { socket: string } | { port: number };

function listenOptions(where: Listen): string {
  return 'socket' in where
    ? `"socket" => "${where.socket}"`
    : `"host" => "127.0.0.1", "port" => ${where.port}`;
}

/** The responder under /app, with arguments (two spaces: an empty one) and an environment. */
function responderConf(root: string, where: Listen): string {
  return `server.document-root = "${root}"
server.modules = ( "mod_fastcgi" )
fastcgi.server = ( "/app" => ( (
  "bin-path" => "${RESPONDER} --one  two",
  ${listenOptions(where)},
  "max-procs" => 1,
  "check-local" => "disable",
  "bin-environment" => ( "KL_ADDED" => "added" ),
  "bin-copy-environment" => ( "PATH" ),
) ) )
`;
}

const koaListen = 'server.port = PORT\nserver.bind = "127.0.0.1"\n';

/** Starts both servers; whichever started is stopped in teardown, even when the other did not. */
async function startBoth(
  t: ExecutionContext,
  koaConf: string,
  lighttpdConf: string,
): Promise<[RunningKoaLighty, RunningLighttpd]> {
  const started = await Promise.allSettled([startKoaLighty({ conf: koaConf }), startLighttpd(lighttpdConf)]);
  t.teardown(async () => {
    await Promise.allSettled(started.map((s) => (s.status === 'fulfilled' ? s.value.stop() : undefined)));
  });
  const [koa, lighttpd] = started;
  if (koa.status === 'rejected') throw koa.reason;
  if (lighttpd.status === 'rejected') throw lighttpd.reason;
  return [koa.value, lighttpd.value];
}

function json(response: RawResponse): unknown {
  return JSON.parse(response.body.toString());
}

for (const transport of ['unix socket', 'TCP'] as const) {
  test(`a node-fastcgi program as bin-path answers like under lighttpd: ${transport}`, async (t) => {
    const root = docroot(t);
    const sockets = tempDir(t, 'koa-lighty-binpath-');
    const [koaWhere, lighttpdWhere]: Listen[] =
      transport === 'TCP'
        ? [{ port: await freePort() }, { port: await freePort() }]
        : [{ socket: join(sockets, 'koa.sock') }, { socket: join(sockets, 'lighttpd.sock') }];
    const [koa, lighttpd] = await startBoth(
      t,
      responderConf(root, koaWhere) + koaListen,
      responderConf(root, lighttpdWhere),
    );

    const ours = await rawRequest(koa.port, '/app/x?a=1');
    t.is(ours.status, 200, koa.output());
    t.is(ours.headers['content-type'], 'application/json');
    t.deepEqual(json(ours), {
      program: 'node-responder',
      argv: ['--one', '', 'two'],
      cwd: join(PACKAGE_ROOT, 'fixtures', 'fastcgi'),
      env: { KL_ADDED: 'added', PHP_FCGI_CHILDREN: '1' },
      request: { method: 'GET', uri: '/app/x?a=1', script: '/app' },
    });
    const theirs = await rawRequest(lighttpd.port, '/app/x?a=1');
    t.is(theirs.status, 200);
    t.deepEqual(json(ours), json(theirs), 'started with the same arguments, directory and environment');

    // The socket is the program's alone: koa-lighty created it, but holds no copy to accept on.
    const responder = Number(ours.headers['x-responder-pid']);
    if ('socket' in koaWhere) {
      const listening = unixListenerInodes(`${koaWhere.socket}-0`);
      t.deepEqual(socketHolders(listening), [responder]);
    } else {
      t.true(listensOn(responder, koaWhere.port));
      t.false(listensOn(koa.pid, koaWhere.port));
    }
    for (let i = 0; i < 3; i++) {
      const again = await rawRequest(koa.port, '/app/y');
      t.is(again.headers['x-responder-pid'], String(responder));
    }
  });
}

/** A route whose program exits the moment it starts, next to a working one and a static file. */
function dyingConf(root: string, sockets: string): string {
  return `server.document-root = "${root}"
server.modules = ( "mod_fastcgi" )
fastcgi.server = (
  "/broken" => ( ( "bin-path" => "${EXITS_AT_ONCE}", "socket" => "${sockets}/broken.sock",
                   "max-procs" => 1, "check-local" => "disable" ) ),
  "/app" => ( ( "bin-path" => "${RESPONDER}", "socket" => "${sockets}/app.sock",
                "max-procs" => 1, "check-local" => "disable" ) ),
)
`;
}

/** Asks until the answer is 503; anything but 502 (the program died under that very request) or 503 fails. */
async function until503(t: ExecutionContext, port: number): Promise<RawResponse> {
  for (let tries = 0; ; tries++) {
    const response = await rawRequest(port, '/broken/x');
    if (response.status === 503 || tries >= 20) return response;
    t.is(response.status, 502, 'only while the program dies under the request');
  }
}

// lighttpd (seen) answers 503 too, or, when the program dies within the millisecond it waits
// after spawning, refuses to start at all ("spawning gw failed"): not an oracle to run here.
test('a bin-path program that exits at once: 503 on its route, a log line naming it, and the server keeps serving', async (t) => {
  const root = docroot(t);
  const sockets = tempDir(t, 'koa-lighty-binpath-dying-');
  const koa = await startKoaLighty({ conf: dyingConf(root, sockets) + koaListen });
  t.teardown(() => koa.stop().then(() => {}));

  // The supervisor names the program and says what became of it; its own stderr is logged too.
  const died = `${EXITS_AT_ONCE} on unix:${sockets}/broken.sock-0 exited with code 1`;
  t.true(await eventually(() => koa.output().includes(died)), koa.output());
  t.true(koa.output().includes('exit-at-once: not a FastCGI program'), koa.output());

  const broken = await until503(t, koa.port);
  t.is(broken.status, 503, koa.output());
  t.regex(broken.body.toString(), /<title>503 Service Unavailable<\/title>/);

  // It is tried again with back-off, and each time it dies the server stays up.
  const deaths = () => koa.output().split(died).length - 1;
  t.true(await eventually(() => deaths() >= 3, 10_000), koa.output());
  t.true(isNodeProcess(koa.pid), 'koa-lighty is still running');
  t.is((await rawRequest(koa.port, '/index.html')).body.toString(), 'static\n');
  const app = await rawRequest(koa.port, '/app/z');
  t.is(app.status, 200);
  t.is((json(app) as { program: string }).program, 'node-responder');
  t.is((await until503(t, koa.port)).status, 503);
});

test('a bin-path starting with a space (no program to run) is refused at start, naming the line', async (t) => {
  const dir = tempDir(t, 'koa-lighty-binpath-conf-');
  const conf = join(dir, 'lighttpd.conf');
  writeFileSync(
    conf,
    `server.document-root = "${dir}"\nfastcgi.server = ( ".php" => ( (\n  "bin-path" => " /usr/bin/php-cgi", "socket" => "${dir}/php.sock" ) ) )\n`,
  );
  const result = await runCli(['-t', '-f', conf]);
  t.not(result.code, 0);
  t.regex(result.stderr, new RegExp(`${conf}:2: .*"bin-path" must start with the program`));
});
