/**
 * mod_status under lighttpd 1.4.69 and koa-lighty on the same config. The figures differ
 * (two servers, two histories); what parsers and people rely on must not: the `?auto` field
 * names, their order and format, the `?json` keys, `jsonp=`, the statistics-url counter
 * names (gw.* of a FastCGI backend) and its 204 without counters, the config-url page, the
 * status page's rows and headings, and the access rules and blocks around the URLs.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import type { RawResponse } from './helpers/http.js';
import { bothForFile, startBoth } from './helpers/same-conf.js';

const root = mkdtempSync(join(tmpdir(), 'koa-lighty-status-l-'));
const www = join(root, 'www');
mkdirSync(www);
writeFileSync(join(www, 'hello.php'), '<?php echo "hello";');
writeFileSync(join(www, 'a.txt'), 'a\n');

const conf = (sockdir: string) => `
server.modules = ( "mod_access", "mod_status", "mod_fastcgi" )
server.document-root = "${www}"
server.tag = "same-tag"
status.statistics-url = "/server-statistics"
status.config-url = "/server-config"
$HTTP["remoteip"] =~ "^(127\\.0\\.0\\.1|::1)$" {
  status.status-url = "/server-status"
}
$HTTP["remoteip"] == "10.0.0.0/8" {
  status.config-url = "/ten-config"
}
$HTTP["url"] == "/server-statistics" {
  $HTTP["querystring"] == "deny" { url.access-deny = ( "" ) }
}
$HTTP["querystring"] == "nosort" {
  status.enable-sort = "disable"
}
fastcgi.server = ( ".php" => ((
  "bin-path" => "/usr/bin/php-cgi",
  "socket" => "${sockdir}/php.sock",
  "max-procs" => 1,
  "bin-environment" => ( "PHP_FCGI_CHILDREN" => "2" ),
)))
`;

const servers = bothForFile(conf, () => rmSync(root, { recursive: true, force: true }));
const text = (r: RawResponse) => r.body.toString('latin1');

test('?auto: lighttpd’s six fields in its order and format; ours only after them, prefixed', async (t) => {
  await servers().both('/hello.php');
  const [lighttpd, koa] = await servers().both('/server-status?auto');
  t.is(koa.status, lighttpd.status);
  t.is(koa.headers['content-type'], lighttpd.headers['content-type']);
  const fields = (r: RawResponse) =>
    text(r)
      .split('\n')
      .slice(0, 6)
      .map((line) => line.split(': ')[0]);
  t.deepEqual(fields(koa), fields(lighttpd));
  t.deepEqual(fields(lighttpd), [
    'Total Accesses',
    'Total kBytes',
    'Uptime',
    'BusyServers',
    'IdleServers',
    'Scoreboard',
  ]);
  for (const response of [lighttpd, koa]) {
    const lines = text(response).split('\n');
    t.is(lines.at(-1), '', 'the text ends with a newline');
    for (const line of lines.slice(0, 5)) t.regex(line, /^[A-Za-z ]+: \d+$/);
    const values = Object.fromEntries(lines.slice(0, 6).map((line) => line.split(': ')));
    // One letter per open connection (this one is being handled), one _ per free one.
    t.regex(values.Scoreboard!, /^[.qrQRhsWSECkx]+_*$/);
    t.true(values.Scoreboard!.startsWith('h') || values.Scoreboard!.includes('h'));
    t.is(values.Scoreboard!.length, Number(values.BusyServers) + Number(values.IdleServers));
  }
  const extra = text(koa).split('\n').slice(6, -1);
  t.true(extra.length > 0);
  for (const line of extra) t.regex(line, /^koa-lighty\.[^ :]+: .*$/);
});

test('?json and ?jsonp=name: lighttpd’s keys in its order, the callback wrapper, a bad name ignored', async (t) => {
  const [lighttpd, koa] = await servers().both('/server-status?json');
  t.is(koa.headers['content-type'], lighttpd.headers['content-type']);
  const lighttpdKeys = Object.keys(JSON.parse(text(lighttpd)));
  t.deepEqual(Object.keys(JSON.parse(text(koa))), [...lighttpdKeys, 'KoaLighty']);
  const [lWrapped, kWrapped] = await servers().both('/server-status?jsonp=update_1');
  for (const r of [lWrapped, kWrapped]) {
    t.regex(text(r), /^update_1\(\{[\s\S]*\}\);$/);
    t.deepEqual(Object.keys(JSON.parse(text(r).slice('update_1('.length, -2))).slice(0, 7), lighttpdKeys);
  }
  const [lBad, kBad] = await servers().both('/server-status?jsonp=1x');
  t.true(text(lBad).startsWith('{'));
  t.true(text(kBad).startsWith('{'));
});

test('statistics-url: the gw.* counter names of a FastCGI backend, in lighttpd’s order', async (t) => {
  await servers().both('/hello.php');
  const [lighttpd, koa] = await servers().both('/server-statistics');
  t.is(koa.status, 200);
  t.is(koa.headers['content-type'], lighttpd.headers['content-type']);
  const names = (r: RawResponse) =>
    text(r)
      .trimEnd()
      .split('\n')
      .map((line) => {
        t.regex(line, /^[^:]+: -?\d+$/);
        return line.split(': ')[0];
      });
  t.deepEqual(names(koa), names(lighttpd));
  t.true(names(koa).includes('gw.active-requests'));
  // One request was served: both counted a connection to the php-cgi process.
  const connected = (r: RawResponse) => Number(/gw\.backend\.\.0\.connected: (\d+)/.exec(text(r))![1]);
  t.true(connected(lighttpd) > 0);
  t.true(connected(koa) > 0);
});

test('config-url: the same page (features, event handler, loaded modules)', async (t) => {
  const [lighttpd, koa] = await servers().both('/server-config');
  t.is(koa.status, lighttpd.status);
  t.is(koa.headers['content-type'], lighttpd.headers['content-type']);
  t.is(text(koa), text(lighttpd));
});

test('the status page: lighttpd’s headings, rows and connection table columns come first', async (t) => {
  const [lighttpd, koa] = await servers().both('/server-status');
  t.is(koa.status, 200);
  t.is(koa.headers['content-type'], lighttpd.headers['content-type']);
  const outline = (r: RawResponse) => {
    const body = text(r);
    return {
      h1: /<h1>([^<]*)<\/h1>/.exec(body)?.[1],
      rows: [...body.matchAll(/<tr><td>([^<]+)<\/td><td class="string"/g)].map((m) => m[1]).slice(0, 9),
      sections: [...body.matchAll(/<th colspan="2">([^<]+)<\/th>/g)].map((m) => m[1]),
      columns: [...body.matchAll(/<a href="#" class="sortheader"[^>]*>([^<]+)</g)].map((m) => m[1]),
      connections: /<b[^>]*>(\d+) connections<\/b>/.test(body),
    };
  };
  t.deepEqual(outline(koa), outline(lighttpd));
  t.is(outline(koa).columns.length, 8);
  // ?refresh=N: lighttpd's meta refresh.
  const [lRefresh, kRefresh] = await servers().both('/server-status?refresh=7');
  for (const r of [lRefresh, kRefresh]) t.true(text(r).includes('<meta http-equiv="refresh" content="7">'));
});

test('status.enable-sort = "disable" in a block: plain column headings there', async (t) => {
  const [lighttpd, koa] = await servers().both('/server-status?nosort');
  for (const r of [lighttpd, koa]) {
    t.is(r.status, 200);
    t.false(text(r).includes('class="sortheader"'));
    t.true(text(r).includes('<th class="status">Client IP</th>'));
  }
});

test('access rules and blocks around the URLs hold for both', async (t) => {
  const cases: [string, Record<string, string>?][] = [
    ['/server-statistics?deny'], // url.access-deny in a block around it: 403
    ['/ten-config'], // only for 10.0.0.0/8: nobody handles it here
    ['/server-status/'], // the URL is compared exactly
    ['/Server-Status'],
  ];
  for (const [path, headers] of cases) {
    const [lighttpd, koa] = await servers().both(path, headers);
    t.is(koa.status, lighttpd.status, path);
  }
  const [denied] = await servers().both('/server-statistics?deny');
  t.is(denied.status, 403);
});

test('statistics-url without any FastCGI backend: 204 and no body, as lighttpd', async (t) => {
  const other = mkdtempSync(join(tmpdir(), 'koa-lighty-status-l2-'));
  const pair = await startBoth(
    () =>
      `server.modules = ( "mod_status" )\nserver.document-root = "${other}"\nstatus.statistics-url = "/stats"\n`,
  );
  try {
    const [lighttpd, koa] = await pair.both('/stats');
    t.is(lighttpd.status, 204);
    t.is(koa.status, 204);
    t.is(koa.body.length, 0);
  } finally {
    await pair.close();
    rmSync(other, { recursive: true, force: true });
  }
});
