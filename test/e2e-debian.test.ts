/**
 * Debian's own lighttpd set-up, unchanged but for the port: /etc/lighttpd/lighttpd.conf as the
 * package installs it (include_shell of its Perl helpers, include of conf-enabled/*.conf) with
 * `lighty-enable-mod fastcgi fastcgi-php` done, read through a wrapper that only adds
 *
 *   server.port := PORT and server.bind := "127.0.0.1"
 *
 * plus a PHP application installed the Debian way: its files under /var/www/html, and its own
 * snippet (alias.url + url.access-deny) included after the main file. koa-lighty is started as
 * root, as Debian's service starts lighttpd, and must drop to www-data (server.username).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { rawRequest } from './helpers/http.js';
import {
  descendantPids,
  processName,
  type RunningKoaLighty,
  runCli,
  startKoaLighty,
} from './helpers/koa-lighty.js';

const ETC = '/etc/lighttpd';
const DEBIAN_CONF = join(ETC, 'lighttpd.conf');
const DOCROOT = '/var/www/html';
const APP_UNDER_DOCROOT = join(DOCROOT, 'koa-lighty-test');
const RUN_DIR = '/run/lighttpd';
const PID_FILE = '/run/lighttpd.pid';
const ERROR_LOG = '/var/log/lighttpd/error.log';
const ENABLE = 'lighty-enable-mod fastcgi fastcgi-php';

const isRoot = process.getuid?.() === 0;
let wwwData = { uid: -1, gid: -1 };
let server: RunningKoaLighty | undefined;
let tempDir: string | undefined;
let phpPids: number[] = [];
/** Where this run's lines start in Debian's error log (it may hold older lines). */
let errorLogOffset = 0;
const existedBefore = {
  pidFile: existsSync(PID_FILE),
  errorLog: existsSync(ERROR_LOG),
  app: existsSync(APP_UNDER_DOCROOT),
};

test.before(async () => {
  if (!isRoot)
    throw new Error(
      `this test runs Debian's set-up as the package does: run it as root (it needs ${ENABLE})`,
    );
  if (!existsSync(DEBIAN_CONF)) throw new Error(`${DEBIAN_CONF} is missing: apt-get install lighttpd`);
  if (existedBefore.app) throw new Error(`${APP_UNDER_DOCROOT} already exists: not ours to overwrite`);
  const enabled = (name: string) => existsSync(join(ETC, 'conf-enabled', name));
  if (!enabled('10-fastcgi.conf') || !enabled('15-fastcgi-php.conf')) {
    execFileSync('lighty-enable-mod', ['fastcgi', 'fastcgi-php'], { stdio: 'ignore' });
    if (!enabled('10-fastcgi.conf') || !enabled('15-fastcgi-php.conf'))
      throw new Error(`fastcgi is not enabled in ${ETC}/conf-enabled: run ${ENABLE}`);
  }
  const passwd = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((line) => line.startsWith('www-data:'));
  if (!passwd) throw new Error('there is no www-data user');
  const [, , uid, gid] = passwd.split(':');
  wwwData = { uid: Number(uid), gid: Number(gid) };
  // What the package's tmpfiles.d entry creates at boot.
  if (!existsSync(RUN_DIR)) {
    mkdirSync(RUN_DIR, { mode: 0o750 });
    chownSync(RUN_DIR, wwwData.uid, wwwData.gid);
  }

  // The application: files under the document root …
  mkdirSync(APP_UNDER_DOCROOT);
  writeFileSync(
    join(APP_UNDER_DOCROOT, 'whoami.php'),
    '<?php\nheader("Content-Type: text/plain");\n$u = posix_geteuid();\necho "euid=$u user=", posix_getpwuid($u)["name"], " script=", $_SERVER["SCRIPT_NAME"], "\\n";\n',
  );
  writeFileSync(join(APP_UNDER_DOCROOT, 'settings.inc'), '<?php $password = "not for the web";\n');
  writeFileSync(join(APP_UNDER_DOCROOT, 'page.html'), '<p>a page of the test app</p>\n');
  // … and an aliased directory with its own snippet, as a Debian app package ships them.
  tempDir = mkdtempSync(join(tmpdir(), 'koa-lighty-debian-'));
  chmodSync(tempDir, 0o755);
  const app = join(tempDir, 'app');
  mkdirSync(app, { mode: 0o755 });
  writeFileSync(join(app, 'index.html'), '<p>the aliased app</p>\n');
  writeFileSync(
    join(app, 'hello.php'),
    '<?php\necho "hello from the aliased app, ", $_SERVER["SCRIPT_NAME"], "\\n";\n',
  );
  writeFileSync(join(app, 'db.secret'), 'a secret of the aliased app\n');
  writeFileSync(
    join(tempDir, 'testapp.conf'),
    `# the test application's lighttpd snippet\nalias.url += ( "/testapp/" => "${app}/" )\nurl.access-deny += ( ".secret" )\n`,
  );
  errorLogOffset = existsSync(ERROR_LOG) ? statSync(ERROR_LOG).size : 0;
  // The wrapper: Debian's file unchanged, then only the port and address, then the app's snippet.
  server = await startKoaLighty({
    conf: `include "${DEBIAN_CONF}"\nserver.port := PORT\nserver.bind := "127.0.0.1"\ninclude "${join(tempDir, 'testapp.conf')}"\n`,
  });
});

test.after.always(async () => {
  try {
    await server?.stop();
  } finally {
    if (!existedBefore.app) rmSync(APP_UNDER_DOCROOT, { recursive: true, force: true });
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
    // Files this run created where Debian's lighttpd keeps them: leave the system as it was.
    if (!existedBefore.pidFile) rmSync(PID_FILE, { force: true });
    if (!existedBefore.errorLog) rmSync(ERROR_LOG, { force: true });
  }
});

const get = (path: string, headers: Record<string, string> = {}) => rawRequest(server!.port, path, headers);

test.serial('the server drops root for server.username (www-data), as lighttpd does', (t) => {
  const status = readFileSync(`/proc/${server!.pid}/status`, 'utf8');
  const uids = /^Uid:\s+(\d+)\s+(\d+)/m.exec(status);
  t.is(Number(uids?.[1]), wwwData.uid, 'real uid');
  t.is(Number(uids?.[2]), wwwData.uid, 'effective uid');
});

test.serial(
  'the wrapper (include, then server.port := and server.bind :=) is accepted by lighttpd -tt and koa-lighty -t',
  async (t) => {
    const lighttpd = spawnSync('/usr/sbin/lighttpd', ['-tt', '-f', server!.confFile!], { encoding: 'utf8' });
    t.is(lighttpd.status, 0, lighttpd.stderr);
    const koa = await runCli(['-t', '-f', server!.confFile!]);
    t.is(koa.code, 0, koa.stderr);
    t.regex(koa.stdout, /Syntax OK/);
  },
);

test.serial('/ answers as Debian set it up: its index file, or 403 when there is none', async (t) => {
  const names = ['index.php', 'index.html'];
  if (existsSync(join(ETC, 'conf-enabled', '99-unconfigured.conf'))) names.push('index.lighttpd.html');
  const index = names.find((name) => existsSync(join(DOCROOT, name)));
  const home = await get('/');
  if (index && !index.endsWith('.php')) {
    t.is(home.status, 200);
    t.deepEqual(home.body, readFileSync(join(DOCROOT, index)));
  } else if (index) {
    t.is(home.status, 200);
  } else {
    t.is(home.status, 403, `no ${names.join(', ')} in ${DOCROOT} and no dir-listing: 403`);
  }
  // Whatever placeholder page the machine has is served with Debian's mime types.
  for (const name of readdirSync(DOCROOT).filter((n) => /^index\..*\.html$/.test(n))) {
    const page = await get(`/${name}`);
    t.is(page.status, 200, name);
    t.is(page.headers['content-type'], 'text/html', name);
    t.deepEqual(page.body, readFileSync(join(DOCROOT, name)));
  }
});

test.serial(
  "a .php page runs through Debian's fastcgi-php (php-cgi on /run/lighttpd/php.socket) as www-data",
  async (t) => {
    const page = await get('/koa-lighty-test/whoami.php');
    t.is(page.status, 200, page.body.toString());
    t.is(page.body.toString(), `euid=${wwwData.uid} user=www-data script=/koa-lighty-test/whoami.php\n`);
    phpPids = descendantPids(server!.pid).filter((pid) => processName(pid) === 'php-cgi');
    t.true(phpPids.length >= 1, 'php-cgi is a child of koa-lighty');
    for (const pid of phpPids) {
      t.is(statSync(`/proc/${pid}`).uid, wwwData.uid, `php-cgi ${pid} runs as www-data`);
    }
    t.true(
      readdirSync(RUN_DIR).some((name) => name.startsWith('php.socket')),
      `a php.socket* in ${RUN_DIR}`,
    );
  },
);

test.serial('url.access-deny ("~", ".inc") of Debian\'s lighttpd.conf: .inc is 403', async (t) => {
  t.is((await get('/koa-lighty-test/settings.inc')).status, 403);
  t.is((await get('/koa-lighty-test/settings.inc/')).status, 403);
  t.is((await get('/koa-lighty-test/page.html~')).status, 403);
  const page = await get('/koa-lighty-test/page.html');
  t.is(page.status, 200);
  t.is(page.headers['content-type'], 'text/html');
});

test.serial(
  'the app snippet: alias.url serves the aliased directory, its denied suffix is 403',
  async (t) => {
    const index = await get('/testapp/');
    t.is(index.status, 200);
    t.is(index.body.toString(), '<p>the aliased app</p>\n');
    const php = await get('/testapp/hello.php');
    t.is(php.status, 200);
    t.is(php.body.toString(), 'hello from the aliased app, /testapp/hello.php\n');
    t.is((await get('/testapp/db.secret')).status, 403);
    t.is((await get('/testapp/missing.html')).status, 404);
    // Debian's own snippet (90-javascript-alias.conf) still works beside it.
    if (existsSync('/usr/share/javascript/jquery/jquery.js')) {
      const js = await get('/javascript/jquery/jquery.js');
      t.is(js.status, 200);
      t.is(js.headers['content-type'], 'text/javascript');
    }
  },
);

test.serial('the only warnings are for options koa-lighty does not support, each named once', (t) => {
  const warnings = readFileSync(ERROR_LOG)
    .subarray(errorLogOffset)
    .toString('utf8')
    .split('\n')
    .filter((line) => /warning/.test(line));
  const names = warnings.map((line) => /: ([\w.-]+(?:: mod_\w+)?) is not supported/.exec(line)?.[1]);
  t.true(
    names.every((name) => name !== undefined),
    warnings.join('\n'),
  );
  t.is(new Set(names).size, names.length, warnings.join('\n'));
});

test.serial(
  'SIGTERM: exit 0, php-cgi gone, and the pid file no longer names a process (lighttpd truncates it)',
  async (t) => {
    const code = await server!.stop();
    t.is(code, 0, server!.output());
    const deadline = Date.now() + 3000;
    let alive = phpPids.filter((pid) => processName(pid) !== undefined);
    while (alive.length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      alive = alive.filter((pid) => processName(pid) !== undefined);
    }
    t.deepEqual(alive, [], 'php-cgi left running');
    const pidFile = existsSync(PID_FILE) ? readFileSync(PID_FILE, 'utf8') : '';
    t.is(pidFile, '', `${PID_FILE} still says ${pidFile.trim()}`);
  },
);
