/**
 * mod_rewrite under lighttpd 1.4.69 and koa-lighty on the same config: every form
 * (url.rewrite-once, -final, url.rewrite, -repeat, -if-not-file, -repeat-if-not-file), `$n`
 * kept encoded, `%n` from the block's own condition, the query string (a target with `?`
 * replaces it, `${qsa}` appends it), `${url.path}` and the other substitutions, a blank target
 * stopping the list, if-not-file against files, directories and PATH_INFO, and the request
 * handled again after a rewrite: $HTTP["url"] blocks, url.access-deny and url.redirect see the
 * new URL, mod_setenv only the first. PHP (php-cgi) reports what it got. Where koa-lighty
 * answers differently on purpose (an endless loop: 500 instead of a dropped connection), the
 * test says so.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { type RawResponse, rawExchange } from './helpers/http.js';
import { type BothServers, seen, startBoth } from './helpers/same-conf.js';

const root = mkdtempSync(join(tmpdir(), 'koa-lighty-rewrite-'));
const www = join(root, 'www');
for (const dir of ['dir', 'nf/dir', 'nf/empty']) mkdirSync(join(www, dir), { recursive: true });
const envPhp = `<?php
header('Content-Type: text/plain');
foreach (['REQUEST_URI', 'QUERY_STRING', 'REDIRECT_URI', 'SCRIPT_NAME', 'PATH_INFO', 'SEEN'] as $k)
  echo $k, '=', $_SERVER[$k] ?? '(unset)', "\\n";
echo 'GET=', json_encode($_GET), "\\n";
`;
writeFileSync(join(www, 'env.php'), envPhp);
writeFileSync(join(www, 'file.txt'), 'a file\n');
writeFileSync(join(www, 'dir/index.html'), 'dir index\n');
writeFileSync(join(www, 'nf/real.txt'), 'real\n');
writeFileSync(join(www, 'nf/dir/index.html'), 'nf dir index\n');

const conf = (sockdir: string) => `
server.document-root = "${www}"
server.modules = ("mod_rewrite", "mod_access", "mod_redirect", "mod_setenv", "mod_fastcgi")
index-file.names = ("index.php", "index.html")
mimetype.assign = (".txt" => "text/plain", ".html" => "text/html")
fastcgi.server = (".php" => ((
  "bin-path" => "/usr/bin/php-cgi",
  "socket" => "${sockdir}/php.socket",
  "max-procs" => 1,
  "bin-environment" => ("PHP_FCGI_CHILDREN" => "2"),
)))
url.rewrite-once = (
  "^/once/(.*)$" => "/env.php/$1",
  "^/query/([^?]*)$" => "/env.php?from=$1",
  "^/query/([^?]*)\\?(.*)$" => "/env.php?from=$1&$2",
  "^/qsa/([^?]*)" => "/env.php?from=$1\${qsa}",
  "^/parts/" => "/env.php?path=\${url.path}&query=\${url.query}&esc=\${esc:url.path}",
  "^/enc/([^?]*)" => "/env.php?plain=$1&braced=\${1}&esc=\${esc:1}&noesc=\${noesc:1}&lower=\${tolower:esc:1}&b64=\${encb64u:1}",
  "^/keep/" => "",
  "^/keep/f" => "/env.php?never",
  "^/chain1(.*)$" => "/chain2$1",
  "^/chain2(.*)$" => "/env.php?chain2",
  "^/bad(.*)$" => "x$1",
  "^/octets$" => "/env.php?v=a b&w=ä",
  "^/to-file$" => "/file.txt",
  "^/to-dir$" => "/dir",
  "^/to-bad$" => "/%%00",
)
url.rewrite-final = ( "^/final/(.*)$" => "/env.php?final=$1", "^/final-chain/(.*)$" => "/chain2/$1" )
url.rewrite = ( "^/old-name/(.*)$" => "/env.php?oldname=$1", "^/old-chain/(.*)$" => "/chain2/$1" )
url.rewrite-repeat = (
  "^/rep1(.*)$" => "/rep2$1",
  "^/rep2(.*)$" => "/env.php?rep=$1",
  "^/then-block(.*)$" => "/block$1",
  "^/loop(.*)$" => "/loop$1",
)
url.rewrite-if-not-file = ( "^/nf/([^?]*)(?:\\?(.*))?$" => "/env.php?nf=$1&$2" )
url.rewrite-repeat-if-not-file = ( "^/nfr/(.*)$" => "/rep1/$1" )
url.redirect = ( "^/env\\.php\\?nf=go" => "/gone/$0" )
$HTTP["url"] =^ "/block" {
  url.rewrite-once = ( "^/block(.*)$" => "/env.php?block=$1&cond=%0" )
}
$HTTP["url"] =~ "^/cap/([a-z]+)" {
  url.rewrite-once = ( "^/cap/(.*)$" => "/env.php?all=%0&first=%1&p=$1&none=%5&esc=\${esc:0}&twice=%{1}" )
}
$HTTP["url"] =~ "^/n/" {
  $HTTP["host"] == "nest.example" {
    url.rewrite-once = ( "^/n/(.*)$" => "/env.php?h=%0&u=%1" )
  }
}
$HTTP["host"] =~ "^(www)\\.(.*)$" {
  url.rewrite-once = ( "^/h/(.*)$" => "/env.php?host=%2&sub=%1&p=$1" )
}
$HTTP["url"] =^ "/env.php" {
  setenv.add-environment = ( "SEEN" => "yes" )
  $HTTP["querystring"] =~ "nf=secret" { url.access-deny = ( "" ) }
}
`;

let servers: BothServers;

test.before(async () => {
  servers = await startBoth(conf);
});
test.after.always(async () => {
  await servers?.close();
  rmSync(root, { recursive: true, force: true });
});

function get(port: number, path: string, host = '127.0.0.1'): Promise<RawResponse> {
  const head = `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;
  return rawExchange(port, Buffer.from(head, 'latin1'));
}

/** What a user sees, with the server's own port taken out of a Location. */
function view(response: RawResponse, port: number) {
  const v = seen(response);
  if (typeof v.location === 'string') v.location = v.location.replace(`:${port}/`, ':PORT/');
  return v;
}

const SAME: Array<[path: string, host?: string]> = [
  // url.rewrite-once: PATH_INFO, a target with ? replacing the query, ${qsa} appending it
  ['/once/a/b?x=1'],
  ['/once/a%20b/%C3%A4?x=%41'],
  ['/query/c=d'],
  ['/query/c=d?x=1&y=%2F'],
  ['/qsa/x?k=%41&z'],
  ['/qsa/x'],
  ['/qsa/x?'],
  // ${url.path}, ${url.query}, the encodings of $n and ${n}
  ['/parts/a%20b/c?q=1&r'],
  ['/enc/AbC%20d+e/f~%7e'],
  // a blank target: the rules after it are not tried
  ['/keep/file'],
  // once ends rewriting; -final and url.rewrite are once too
  ['/chain1/z'],
  ['/final/x?y'],
  ['/old-name/x'],
  ['/final-chain/x'],
  ['/old-chain/x'],
  // raw bytes in the rule's own target are encoded by the re-parse
  ['/octets'],
  // rewritten to a static file, a directory (301 to the slash), and a target that is a 400
  ['/to-file'],
  ['/to-dir'],
  ['/to-bad'],
  // url.rewrite-repeat: the rules run again on the new target
  ['/rep1/z?y'],
  // ...for the blocks of the new URL, whose list then replaces the global one; %0 is its match
  ['/then-block/x?q'],
  // %n: the captures of the block's own condition; an outer block's are not seen
  ['/cap/abc/def?q'],
  ['/n/p', 'nest.example'],
  ['/h/p%20q?r', 'www.example.org'],
  // if-not-file: a file is served, a directory, PATH_INFO and a missing file are rewritten
  ['/nf/real.txt'],
  ['/nf/dir/'],
  ['/nf/dir'],
  ['/nf/empty/'],
  ['/nf/real.txt/more?x=1'],
  ['/nf/missing?x=1&y=%2F'],
  // after an if-not-file rewrite, url.access-deny and url.redirect see the new URL; SEEN
  // (mod_setenv in an $HTTP["url"] block) is only there for a URL rewritten before it ran
  ['/nf/secret'],
  ['/nf/go'],
  // url.rewrite-repeat-if-not-file, then the URL rules again
  ['/nfr/x?y'],
  // not rewritten at all (REDIRECT_URI: the normalised target, %2B and %3A kept encoded)
  ['/file.txt'],
  ['/env.php?plain=1'],
  ['/env.php/a%2Bb%3a%40+c?x=%41%2b'],
];

for (const [path, host] of SAME) {
  test(`GET ${path}${host ? ` (Host ${host})` : ''} as lighttpd`, async (t) => {
    const [expected, actual] = await Promise.all([
      get(servers.lighttpd.port, path, host),
      get(servers.koaPort, path, host),
    ]);
    t.deepEqual(view(actual, servers.koaPort), view(expected, servers.lighttpd.port));
  });
}

test('what PHP sees of a rewritten request: REQUEST_URI as sent, REDIRECT_URI and the query as rewritten', async (t) => {
  const response = await get(servers.koaPort, '/once/a%20b?x=%41');
  t.is(
    response.body.toString(),
    'REQUEST_URI=/once/a%20b?x=%41\nQUERY_STRING=x=A\nREDIRECT_URI=/env.php/a%20b?x=A\n' +
      'SCRIPT_NAME=/env.php\nPATH_INFO=/a b\nSEEN=yes\nGET={"x":"A"}\n',
  );
});

for (const path of ['/loop/x', '/bad/z']) {
  test(`GET ${path}: 500 and a log line (lighttpd logs it and closes the connection unanswered)`, async (t) => {
    await t.throwsAsync(get(servers.lighttpd.port, path), { message: /malformed response/ });
    const response = await get(servers.koaPort, path);
    t.is(response.status, 500);
    const logged = path === '/loop/x' ? /ENDLESS LOOP IN rewrite-rule DETECTED/ : /not beginning with '\/'/;
    t.true(servers.koaLog.lines.some((line) => logged.test(line)));
    t.regex(await servers.lighttpd.errorLog(), logged);
  });
}
