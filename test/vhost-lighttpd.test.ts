/**
 * Virtual hosts under lighttpd 1.4.69 and koa-lighty on the same configs: mod_simple_vhost
 * (server-root, default-host, document-root, debug; per block), mod_evhost (every `%`
 * sequence 1.4.69 knows), both loaded, and server.document-root inside $HTTP["host"] blocks.
 * Static files, directory redirects, index files and PHP through php-cgi (DOCUMENT_ROOT,
 * SCRIPT_FILENAME, PATH_TRANSLATED, SERVER_NAME) per host; hosts in upper case, with a port,
 * a trailing dot, an IPv6 literal, an IPv4 address, none at all (HTTP/1.0), and ones that
 * try to leave the server root.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { ConfigError } from '../src/config/errors.js';
import { loadConfig } from '../src/server/app.js';
import { type RawResponse, rawExchange } from './helpers/http.js';
import { LIGHTTPD } from './helpers/lighttpd.js';
import { type BothServers, seen, startBoth } from './helpers/same-conf.js';

const root = mkdtempSync(join(tmpdir(), 'koa-lighty-vhost-'));
const ENV_PHP = `<?php
foreach (['DOCUMENT_ROOT', 'SCRIPT_FILENAME', 'SCRIPT_NAME', 'PATH_INFO', 'PATH_TRANSLATED',
          'SERVER_NAME', 'HTTP_HOST', 'REQUEST_URI'] as $k)
  echo $k, '=', var_export($_SERVER[$k] ?? null, true), "\\n";
echo 'file=', __FILE__, "\\n";
`;

/** A directory of the fixture that says who it is in who.txt, with a PHP page and more. */
function site(dir: string): void {
  const at = join(root, dir);
  mkdirSync(join(at, 'dir'), { recursive: true });
  mkdirSync(join(at, 'sub'), { recursive: true });
  writeFileSync(join(at, 'who.txt'), `${dir}\n`);
  writeFileSync(join(at, 'env.php'), ENV_PHP);
  writeFileSync(join(at, 'claimed.php'), ENV_PHP);
  writeFileSync(join(at, 'sub', 'index.php'), ENV_PHP);
  writeFileSync(join(at, 'dir', 'who.txt'), `${dir}/dir\n`);
}

for (const dir of [
  'www',
  'other',
  'srv/a.example.org/htdocs',
  'srv/default.example/htdocs',
  'srv/nodocs.example',
  'srv/[/htdocs',
  'srv/127.0.0.1/htdocs',
  'srv2/x.test/htdocs',
  'srvb/a.example.org',
  'ev/example.org/www',
  'ev/example.org',
  'ev/localhost',
  'ev/0.1/0',
  'ev/[::1]',
  'ev/%ab.cd.pct/c/cdcd',
  'ev/deep/a/b/c/d',
  'hosts/a',
  'hosts/b',
  'both/simple/www.both.example',
  'both/ev/both.example',
])
  site(dir);
// A file where a host's directory would be: not a directory, so the default host serves.
writeFileSync(join(root, 'srv/file.example'), 'a file\n');

const php = (sockdir: string, name = 'php', extra = '') => `(
  "bin-path" => "/usr/bin/php-cgi",
  "socket" => "${sockdir}/${name}.socket",
  "max-procs" => 1,
  "bin-environment" => ("PHP_FCGI_CHILDREN" => "1"),${extra}
)`;

const common = `
mimetype.assign = (".txt" => "text/plain", ".html" => "text/html")
index-file.names = ("index.php", "index.html")
`;

const simpleConf = (sockdir: string) => `${common}
server.document-root = "${root}/www/"
server.modules = ("mod_simple_vhost", "mod_fastcgi")
simple-vhost.server-root = "${root}/srv"
simple-vhost.default-host = "default.example"
simple-vhost.document-root = "htdocs"
simple-vhost.debug = 1
server.name = "configured.example"
fastcgi.server = (
  "/claimed.php" => (${php(sockdir, 'claimed', ' "check-local" => "disable",')}),
  ".php" => (${php(sockdir)}),
)
$HTTP["host"] == "blockroot.example" { server.document-root = "${root}/other/" }
$HTTP["host"] =~ "\\.test$" { simple-vhost.server-root = "${root}/srv2/" }
`;

/** No default-host, no document-root: a host without a directory gets the server root itself. */
const bareConf = () => `${common}
server.document-root = "${root}/www"
server.modules = ("mod_simple_vhost")
simple-vhost.server-root = "${root}/srvb/"
$HTTP["host"] == "c.example" { simple-vhost.server-root = "${root}/nowhere" }
$HTTP["host"] == "off.example" { simple-vhost.server-root = "" }
`;

const evConf = (sockdir: string) => `${common}
server.document-root = "${root}/www"
server.modules = ("mod_evhost", "mod_fastcgi")
evhost.path-pattern = "${root}/ev/%0/%3/"
fastcgi.server = (".php" => (${php(sockdir)}))
$HTTP["host"] =~ "\\.pct$" { evhost.path-pattern = "${root}/ev/%%%_/%{2.1}/%{2.0}%{2}%{2.9}" }
$HTTP["host"] =~ "\\.deep$" { evhost.path-pattern = "${root}/ev/%1/%2/%3/%4/%5" }
`;

/** Both modules: the one server.modules lists last has the last word. */
const bothConf = () => `${common}
server.document-root = "${root}/www"
server.modules = ("mod_evhost", "mod_simple_vhost")
simple-vhost.server-root = "${root}/both/simple"
evhost.path-pattern = "${root}/both/ev/%0"
`;

const hostBlocksConf = (sockdir: string) => `${common}
server.document-root = "${root}/www"
server.modules = ("mod_fastcgi")
fastcgi.server = (".php" => (${php(sockdir)}))
$HTTP["host"] == "a.example" { server.document-root = "${root}/hosts/a/" }
$HTTP["host"] =~ "^(www\\.)?b\\.example$" { server.document-root = "${root}/hosts/b" }
$HTTP["host"] == "gone.example" { server.document-root = "${root}/hosts/none" }
`;

let simple: BothServers | undefined;
let bare: BothServers | undefined;
let ev: BothServers | undefined;
let both: BothServers | undefined;
let blocks: BothServers | undefined;
test.before(async () => {
  [simple, bare, ev, both, blocks] = await Promise.all([
    startBoth(simpleConf),
    startBoth(bareConf),
    startBoth(evConf),
    startBoth(bothConf),
    startBoth(hostBlocksConf),
  ]);
});
test.after.always(async () => {
  await Promise.allSettled([simple, bare, ev, both, blocks].map((servers) => servers?.close()));
  rmSync(root, { recursive: true, force: true });
});

/** A GET with this Host line (none: undefined) and HTTP version, exactly as written. */
function ask(port: number, path: string, host: string | undefined, version = '1.1'): Promise<RawResponse> {
  const lines = [
    `GET ${path} HTTP/${version}`,
    ...(host === undefined ? [] : [`Host: ${host}`]),
    'Connection: close',
  ];
  return rawExchange(port, Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'));
}

/** The same request to lighttpd and to koa-lighty: [lighttpd's answer, koa-lighty's]. */
function askBoth(servers: BothServers, path: string, host: string | undefined, version?: string) {
  return Promise.all([
    ask(servers.lighttpd.port, path, host, version),
    ask(servers.koaPort, path, host, version),
  ]);
}

/** What PHP saw, with the paths of the fixture shown relative to it. */
function view(response: RawResponse) {
  const shown = seen(response);
  return { ...shown, body: String(shown.body).replaceAll(root, '<root>') };
}

const PATHS = [
  '/who.txt',
  '/env.php',
  '/env.php/p/i',
  '/claimed.php',
  '/dir',
  '/dir/who.txt',
  '/sub/',
  '/none',
];

function compare(
  title: string,
  servers: () => BothServers,
  hosts: Array<[host: string | undefined, version?: string]>,
  paths: string[],
) {
  for (const [host, version] of hosts) {
    test(`${title}: Host ${host === undefined ? `(none, HTTP/${version})` : JSON.stringify(host)}`, async (t) => {
      for (const path of paths) {
        const [lighttpd, koa] = await askBoth(servers(), path, host, version);
        t.deepEqual(view(koa), view(lighttpd), path);
      }
    });
  }
}

compare(
  'simple-vhost',
  () => simple!,
  [
    ['a.example.org'],
    ['A.Example.ORG'],
    ['a.example.org:8080'],
    ['a.example.org.'],
    ['a.example.org:'],
    ['unknown.example'],
    ['nodocs.example'],
    ['file.example'],
    ['default.example'],
    ['blockroot.example'],
    ['x.test'],
    ['y.test'],
    ['[::1]'],
    ['[::1]:8080'],
    ['127.0.0.1'],
    [undefined, '1.0'],
  ],
  PATHS,
);

compare(
  'simple-vhost without default-host or document-root',
  () => bare!,
  [['a.example.org'], ['unknown.example'], ['c.example'], ['off.example'], [undefined, '1.0']],
  ['/who.txt', '/a.example.org/who.txt', '/dir', '/none'],
);

compare(
  'evhost',
  () => ev!,
  [
    ['www.example.org'],
    ['WWW.Example.Org:8080'],
    ['www.example.org.'],
    ['example.org'],
    ['a.b.example.org'],
    ['localhost'],
    ['127.0.0.1'],
    ['[::1]'],
    ['ab.cd.pct'],
    ['e.d.c.b.a.deep'],
    ['a.deep'],
    [undefined, '1.0'],
  ],
  ['/who.txt', '/env.php', '/env.php/p/i', '/dir', '/none'],
);

compare(
  'simple-vhost and evhost both loaded',
  () => both!,
  [['www.both.example'], ['both.example'], ['other.example']],
  ['/who.txt', '/none'],
);

compare(
  'server.document-root in $HTTP["host"] blocks',
  () => blocks!,
  [
    ['a.example'],
    ['b.example'],
    ['www.b.example'],
    ['gone.example'],
    ['elsewhere.example'],
    ['A.EXAMPLE:8080'],
  ],
  ['/who.txt', '/env.php', '/env.php/p/i', '/dir', '/sub/', '/none'],
);

test('hosts that try to leave the server root are refused, as by lighttpd', async (t) => {
  for (const host of [
    '..',
    '../srv',
    'a/../..',
    '.',
    'a..b',
    '-a.example',
    'a b',
    '%2e%2e',
    'a.example.org/..',
  ]) {
    for (const servers of [simple!, ev!]) {
      const [lighttpd, koa] = await askBoth(servers, '/who.txt', host);
      t.is(lighttpd.status, 400, host);
      t.deepEqual(view(koa), view(lighttpd), host);
    }
  }
});

test('what the comparisons rest on: each host gets its own root, PHP its DOCUMENT_ROOT and SERVER_NAME', async (t) => {
  const [, a] = await askBoth(simple!, '/env.php/p/i', 'A.example.org:8080');
  const body = a.body.toString();
  t.regex(body, /DOCUMENT_ROOT='[^']*\/srv\/a\.example\.org\/htdocs\/'/);
  t.regex(body, /SCRIPT_FILENAME='[^']*\/srv\/a\.example\.org\/htdocs\/env\.php'/);
  t.regex(body, /PATH_TRANSLATED='[^']*\/srv\/a\.example\.org\/htdocs\/p\/i'/);
  t.regex(body, /SERVER_NAME='a\.example\.org'/);
  const [, fallback] = await askBoth(simple!, '/env.php', 'unknown.example');
  t.regex(fallback.body.toString(), /SERVER_NAME='default\.example'/);
  const [, claimed] = await askBoth(simple!, '/claimed.php', 'a.example.org');
  t.regex(claimed.body.toString(), /file=[^\n]*\/srv\/a\.example\.org\/htdocs\/claimed\.php/);
  const [, evPhp] = await askBoth(ev!, '/env.php', 'www.example.org');
  t.regex(evPhp.body.toString(), /DOCUMENT_ROOT='[^']*\/ev\/example\.org\/www\/'/);
  const [, blockA] = await askBoth(blocks!, '/env.php', 'a.example');
  t.regex(blockA.body.toString(), /DOCUMENT_ROOT='[^']*\/hosts\/a\/'/);
  const [, blockB] = await askBoth(blocks!, '/env.php', 'b.example');
  t.regex(blockB.body.toString(), /DOCUMENT_ROOT='[^']*\/hosts\/b'/);
  const [, ipv6] = await askBoth(simple!, '/who.txt', '[::1]');
  t.is(ipv6.body.toString(), 'srv/[/htdocs\n');
  const [, gone] = await askBoth(blocks!, '/who.txt', 'gone.example');
  t.is(gone.status, 404);
  for (const servers of [simple!, bare!, ev!, both!, blocks!])
    t.deepEqual(
      servers.koaLog.lines.filter((line) => line.includes('not supported')),
      [],
    );
});

test('a missing host directory is logged like lighttpd: simple-vhost with debug, evhost always', async (t) => {
  const lines = (log: string, source: string) =>
    log
      .split('\n')
      .filter((line) => line.includes(source))
      .map((line) => line.slice(line.indexOf(') ') + 2).replaceAll(root, '<root>'));
  await askBoth(simple!, '/who.txt', 'logged.example');
  await askBoth(ev!, '/who.txt', 'x.logged.example');
  const expected = [
    '<root>/srv/logged.example/htdocs/: No such file or directory',
    '<root>/ev/logged.example/x/: No such file or directory',
  ];
  // lighttpd writes the line before it answers.
  const lighttpdLines = [
    ...lines(await simple!.lighttpd.errorLog(), 'mod_simple_vhost'),
    ...lines(await ev!.lighttpd.errorLog(), 'mod_evhost'),
  ];
  for (const line of expected) t.true(lighttpdLines.includes(line), `lighttpd: ${line}`);
  const koaLines = [
    ...simple!.koaLog.lines.filter((line) => line.startsWith('(simple-vhost)')),
    ...ev!.koaLog.lines.filter((line) => line.startsWith('(evhost)')),
  ].map((line) => line.slice(line.indexOf(') ') + 2).replaceAll(root, '<root>'));
  for (const line of expected) t.true(koaLines.includes(line), `koa-lighty: ${line}`);
  // Without debug, simple-vhost says nothing.
  await askBoth(bare!, '/who.txt', 'quiet.example');
  t.deepEqual(
    bare!.koaLog.lines.filter((line) => line.includes('quiet.example')),
    [],
  );
});

/** `lighttpd -tt` and loadConfig on the same file: both must refuse it. */
function refusedByBoth(t: import('ava').ExecutionContext, conf: string, key: string) {
  const dir = mkdtempSync(join(tmpdir(), 'koa-lighty-vhost-conf-'));
  try {
    const file = join(dir, 'lighttpd.conf');
    writeFileSync(file, `server.document-root = "${root}/www"\n${conf}\n`);
    const lighttpd = spawnSync(LIGHTTPD, ['-tt', '-f', file], { encoding: 'utf8' });
    t.not(lighttpd.status, 0, `lighttpd accepts ${conf}`);
    const error = t.throws(() => loadConfig(file), { instanceOf: ConfigError });
    t.true(error?.reason.startsWith(key), error?.message);
    t.is(error?.line, 3, error?.message);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const pattern of ['/srv/%-1/', '/srv/%x/', '/srv/%{1.2/', '/srv/%{a}/', '/srv/%{12}/', '/srv/%']) {
  test(`evhost.path-pattern "${pattern}" refuses to start, as lighttpd does`, (t) => {
    refusedByBoth(
      t,
      `server.modules = ("mod_evhost")\nevhost.path-pattern = "${pattern}"`,
      'evhost.path-pattern',
    );
  });
}

test('simple-vhost.debug = "enable" refuses to start, as lighttpd does (a number is wanted)', (t) => {
  refusedByBoth(
    t,
    `server.modules = ("mod_simple_vhost")\nsimple-vhost.debug = "enable"\nsimple-vhost.server-root = "/srv"`,
    'simple-vhost.debug',
  );
});
