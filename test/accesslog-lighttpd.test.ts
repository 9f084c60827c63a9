/**
 * mod_accesslog against Debian's lighttpd 1.4.69: both servers run the same lighttpd.conf
 * (accesslog.format, accesslog.escaping, accesslog.filename in blocks, a `|program`), get the
 * same raw requests, and must write the same lines. What must differ is normalised: the port
 * each listens on, the client's port, and times (checked against the clock instead).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import test from 'ava';
import { rawExchange } from './helpers/http.js';
import { copyOfFixtureWww } from './helpers/lighttpd.js';
import { type BothServers, startBoth } from './helpers/same-conf.js';
import { eventually } from './helpers/wait.js';

const www = copyOfFixtureWww();
mkdirSync(join(www.root, 'admin'));
writeFileSync(join(www.root, 'admin', 'index.html'), '<p>admin</p>\n');
writeFileSync(
  join(www.root, 'cookies.php'),
  "<?php\nsetcookie('first', 'one');\nsetcookie('second', 'two, three');\necho 'read ', strlen(file_get_contents('php://input'));\n",
);
test.after.always(() => www.remove());

/** Every field but times (ports are compared as the server's own and the client's). */
const ALL_FIELDS =
  'a=%a h=%h A=%A p=%p rp=%{remote}p cp=%{canonical}p lp=%{local}p b=%b B=%B C=%{c1}C e=%{FOO}e f=%f H=%H i=%{X-Test}i ua=%{User-Agent}i I=%I k=%k l=%l ' +
  'm=%m n=%{N}n ct=%{Content-Type}o cl=%{Content-Length}o O=%O q=%q r=%r s=%s >s=%>s <s=%<s u=%u U=%U ' +
  'v=%v V=%V X=%X pct=%% P=%P x=%{x}% y=%{y}l c0=%C lit=\\t\\q\\\\|';

/** The lines of an access log once it has `count` (lighttpd flushes its buffer every 4 s). */
async function logLines(file: string, count: number): Promise<string[]> {
  const read = () => (existsSync(file) ? readFileSync(file, 'latin1').split('\n').slice(0, -1) : []);
  await eventually(() => read().length >= count, 15_000);
  return read();
}

/** Both servers' lines of one log file (relative to each server's directory). */
async function bothLogs(servers: BothServers, name: string, count: number): Promise<[string[], string[]]> {
  return Promise.all([
    logLines(join(servers.dirs.lighttpd, name), count),
    logLines(join(servers.dirs.koa, name), count),
  ]);
}

/**
 * The same bytes to both servers, one connection each; resolves when both have answered. An
 * HTTP/1.1 request gets `Connection: close` (the answer ends with the connection).
 */
async function sendBoth(servers: BothServers, request: string): Promise<void> {
  const head = request.indexOf('\r\n\r\n');
  const closing =
    /^[^\r]* HTTP\/1\.1\r\n/.test(request) && !/\r\nConnection:/i.test(request.slice(0, head))
      ? `${request.slice(0, head)}\r\nConnection: close${request.slice(head)}`
      : request;
  const bytes = Buffer.from(closing, 'latin1');
  await Promise.all([rawExchange(servers.lighttpd.port, bytes), rawExchange(servers.koaPort, bytes)]);
}

/** Requests one after the other on one kept connection, each sent once the previous answer is in. */
async function keptConnection(port: number, requests: string[]): Promise<void> {
  const socket = connect(port, '127.0.0.1');
  let data = Buffer.alloc(0);
  let wake = () => {};
  socket.on('data', (chunk) => {
    data = Buffer.concat([data, chunk]);
    wake();
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const until = async (done: () => boolean) => {
    while (!done()) await new Promise<void>((resolve) => (wake = resolve));
  };
  for (const request of requests) {
    data = Buffer.alloc(0);
    socket.write(request);
    await until(() => {
      const end = data.indexOf('\r\n\r\n');
      if (end < 0) return false;
      const length = /content-length: (\d+)/i.exec(data.subarray(0, end).toString('latin1'));
      const body = request.startsWith('HEAD') || !length ? 0 : Number(length[1]);
      return data.length >= end + 4 + body;
    });
  }
  socket.end();
  await closed;
}

/** A line with the server's own port and the client's port (`rp=`) taken out. */
const withoutPorts = (line: string, port: number) =>
  line
    .replaceAll(new RegExp(`(?<= )(c|l)?p=${port}(?= )`, 'g'), '$1p=PORT')
    .replace(/ rp=[1-9]\d* /, ' rp=N ');

function conf(format: string, extra = '') {
  return (dir: string) =>
    `server.document-root = "${www.root}"\n` +
    'server.modules = ( "mod_accesslog" )\n' +
    'index-file.names = ( "index.html" )\n' +
    'mimetype.assign = ( ".html" => "text/html", ".txt" => "text/plain" )\n' +
    `accesslog.filename = "${dir}/access.log"\n` +
    `accesslog.format = "${format.replaceAll('"', '\\"')}"\n` +
    // A block makes the pipeline conditional: a request refused for its target is still logged.
    '$HTTP["host"] == "never.example" { accesslog.format = "never" }\n' +
    extra;
}

const REQUESTS: Array<[string, string]> = [
  [
    'a file, repeated and odd headers',
    'GET /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Test: one\r\nX-Test: two\r\n' +
      'User-Agent: agent "quoted" \\back\\ \ttab \xe9\xff\r\nCookie: a=1; c1= val ;z=2\r\nConnection: close\r\n\r\n',
  ],
  [
    'a missing file with a query',
    'GET /missing.txt?x=%41%3a%7e&y=%22 HTTP/1.1\r\nHost: Example.COM:80\r\n\r\n',
  ],
  ['HEAD', 'HEAD /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'],
  ['a directory with an index file', 'GET /sub/../ HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n'],
  ['an absolute-form target', 'GET http://Abs.Example/index.html?q HTTP/1.1\r\nHost: abs.example\r\n\r\n'],
  ['HTTP/1.0 without Host', 'GET /range.txt HTTP/1.0\r\n\r\n'],
  ['a target refused (400)', 'GET /a%00b HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'],
  ['a head refused (400)', 'GET http://a.example/index.html HTTP/1.1\r\nHost: b.example\r\n\r\n'],
  ['OPTIONS *', 'OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'],
  ['a POST with a body', 'POST /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n\r\nhello'],
];

test.serial('every specifier but times: the same line from both servers, request by request', async (t) => {
  const servers = await startBoth(conf(ALL_FIELDS));
  t.teardown(() => servers.close());
  for (const [, request] of REQUESTS) await sendBoth(servers, request);
  const [lighttpd, koa] = await bothLogs(servers, 'access.log', REQUESTS.length);
  // %O counts the header block, and koa-lighty's Server header says so: 13 bytes more.
  const sent = (line: string) => Number(/ O=(\d+) /.exec(line)?.[1]);
  const serverTagExtra = Buffer.byteLength(' (koa-lighty)');
  for (const [i, [what]] of REQUESTS.entries()) {
    const [k, l] = [koa[i] ?? '', lighttpd[i] ?? ''];
    t.is(
      withoutPorts(k, servers.koaPort).replace(/ O=\d+ /, ' O '),
      withoutPorts(l, servers.lighttpd.port).replace(/ O=\d+ /, ' O '),
      what,
    );
    t.is(sent(k) - sent(l), serverTagExtra, what);
  }
  t.is(koa.length, REQUESTS.length);
});

test.serial('a kept connection: %k counts its requests, %X says whether it stays open', async (t) => {
  const servers = await startBoth(conf('%k %X %s %r %b %I'));
  t.teardown(() => servers.close());
  const requests = [
    'GET /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
    'HEAD /range.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
    'GET /missing HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n',
  ];
  await keptConnection(servers.lighttpd.port, requests);
  await keptConnection(servers.koaPort, requests);
  const [lighttpd, koa] = await bothLogs(servers, 'access.log', 3);
  t.deepEqual(koa, lighttpd);
  t.regex(koa[0] ?? '', /^0 \+ 200 /);
  t.regex(koa[2] ?? '', /^2 - 404 /);
});

test.serial('accesslog.escaping = "json": controls as \\u00HH, bytes >= 0x80 as they are', async (t) => {
  const servers = await startBoth(
    conf('"%{User-Agent}i" "%r" "%{X-Test}i"', 'accesslog.escaping = "json"\n'),
  );
  t.teardown(() => servers.close());
  await sendBoth(servers, REQUESTS[0]![1]);
  await sendBoth(servers, 'GET /x?%22%5c HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Test: \xc3\xa9 "x"\r\n\r\n');
  const [lighttpd, koa] = await bothLogs(servers, 'access.log', 2);
  t.deepEqual(koa, lighttpd);
  t.is(koa[0], '"agent \\"quoted\\" \\\\back\\\\ \\ttab \xe9\xff" "GET /index.html HTTP/1.1" "one, two"');
});

test.serial('the default format, with its time, matches lighttpd but for the time itself', async (t) => {
  const servers = await startBoth((dir) =>
    conf('%h %V %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"')(dir).replace(/^accesslog.format.*\n/m, ''),
  );
  t.teardown(() => servers.close());
  const before = Math.floor(Date.now() / 1000);
  await sendBoth(
    servers,
    'GET /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\nReferer: http://r.example/\r\nUser-Agent: ua/1\r\n\r\n',
  );
  const after = Math.ceil(Date.now() / 1000);
  const [lighttpd, koa] = await bothLogs(servers, 'access.log', 1);
  const time = /\[(\d{2})\/(\w{3})\/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-]\d{4})\]/;
  const noTime = (line: string) => line.replace(time, '[TIME]');
  t.is(noTime(koa[0] ?? ''), noTime(lighttpd[0] ?? ''));
  const m = time.exec(koa[0] ?? '')!;
  const when = Date.parse(`${m[2]} ${m[1]} ${m[3]} ${m[4]}:${m[5]}:${m[6]} ${m[7]}`) / 1000;
  t.true(when >= before && when <= after, koa[0]);
});

test.serial(
  'time fields: epoch, fractions and spans have lighttpd’s shape and the clock’s values',
  async (t) => {
    const format =
      '%{begin:%s}t|%{msec}t|%{usec}t|%{nsec}t|%{msec_frac}t|%{usec_frac}t|%{nsec_frac}t|%{begin:msec}t|%D|%{ms}T|%{us}T|%{ns}T|%{end:usec}t';
    const servers = await startBoth(conf(format));
    t.teardown(() => servers.close());
    const before = BigInt(Date.now()) * 1_000_000n;
    await sendBoth(servers, 'GET /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    const after = BigInt(Date.now() + 1) * 1_000_000n;
    const [lighttpd, koa] = await bothLogs(servers, 'access.log', 1);
    const shape = /^\d{10}\|\d{13}\|\d{16}\|\d{19}\|\d{3}\|\d{6}\|\d{9}\|\d{13}\|\d+\|\d+\|\d+\|\d+\|\d{16}$/;
    t.regex(lighttpd[0] ?? '', shape);
    t.regex(koa[0] ?? '', shape);
    const [begin, ms, us, ns, msFrac, usFrac, nsFrac, beginMs, D, spanMs, spanUs, spanNs] = (koa[0] ?? '')
      .split('|')
      .map(BigInt) as bigint[];
    t.true(ns! >= before && ns! <= after, `${ns} in [${before}, ${after}]`);
    t.is(begin, beginMs! / 1000n);
    t.true(beginMs! <= ms!);
    // Rounded up, as lighttpd does.
    t.is(ms, (ns! + 999_999n) / 1_000_000n);
    t.is(us, (ns! + 999n) / 1000n);
    t.is(nsFrac, ns! % 1_000_000_000n);
    t.is(usFrac, (((ns! % 1_000_000_000n) + 999n) / 1000n) % 1_000_000n);
    t.is(msFrac, (((ns! % 1_000_000_000n) + 999_999n) / 1_000_000n) % 1000n);
    t.is(D, spanUs);
    t.true(spanNs! > 0n && spanMs === (spanNs! + 999_999n) / 1_000_000n);
  },
);

test.serial(
  'Pi-hole: accesslog.filename and format inside $HTTP["url"], and the older global format',
  async (t) => {
    const servers = await startBoth(
      (dir) =>
        `server.document-root = "${www.root}"\n` +
        'server.modules = ( "mod_accesslog" )\n' +
        'index-file.names = ( "index.html" )\n' +
        `accesslog.filename = "${dir}/global.log"\n` +
        'accesslog.format = "%{%s}t|%V|%r|%s|%b"\n' +
        '$HTTP["url"] =~ "^/admin/" {\n' +
        `    accesslog.filename = "${dir}/access-pihole.log"\n` +
        '    accesslog.format = "%{%s}t|%h|%V|%r|%s|%b"\n' +
        '}\n',
    );
    t.teardown(() => servers.close());
    const before = Math.floor(Date.now() / 1000);
    await sendBoth(servers, 'GET /admin/ HTTP/1.1\r\nHost: pi.hole\r\n\r\n');
    await sendBoth(servers, 'GET /admin/missing.php?x=1 HTTP/1.1\r\nHost: pi.hole\r\n\r\n');
    await sendBoth(servers, 'GET /index.html HTTP/1.1\r\nHost: ads.example\r\n\r\n');
    const after = Math.ceil(Date.now() / 1000);
    const [lighttpdAdmin, koaAdmin] = await bothLogs(servers, 'access-pihole.log', 2);
    const [lighttpdGlobal, koaGlobal] = await bothLogs(servers, 'global.log', 1);
    const untimed = (lines: string[]) => lines.map((line) => line.replace(/^\d+\|/, 'T|'));
    t.deepEqual(untimed(koaAdmin), untimed(lighttpdAdmin));
    t.deepEqual(untimed(koaGlobal), untimed(lighttpdGlobal));
    t.deepEqual(untimed(koaAdmin), [
      'T|127.0.0.1|pi.hole|GET /admin/ HTTP/1.1|200|13',
      'T|127.0.0.1|pi.hole|GET /admin/missing.php?x=1 HTTP/1.1|404|341',
    ]);
    for (const line of [...koaAdmin, ...koaGlobal]) {
      const when = Number(line.split('|')[0]);
      t.true(when >= before && when <= after, line);
    }
  },
);

test.serial(
  'accesslog.filename = "|program": lines go to its standard input, as from lighttpd',
  async (t) => {
    const servers = await startBoth((dir) =>
      conf('%s %r %b')(dir).replace(
        /^accesslog.filename.*$/m,
        `accesslog.filename = "|cat >> ${dir}/piped.log"`,
      ),
    );
    t.teardown(() => servers.close());
    await sendBoth(servers, 'GET /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await sendBoth(servers, 'GET /nothing HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    const [lighttpd, koa] = await bothLogs(servers, 'piped.log', 2);
    t.deepEqual(koa, lighttpd);
    t.is(koa.length, 2);
  },
);

test.serial(
  'PHP over FastCGI: %f is the script, %b its body, Set-Cookie lines as lighttpd keeps them',
  async (t) => {
    const servers = await startBoth((dir) =>
      conf('%s %f %b %I "%{Set-Cookie}o" %{Content-Type}o')(dir).replace(
        'server.modules = ( "mod_accesslog" )',
        'server.modules = ( "mod_accesslog", "mod_fastcgi" )\n' +
          `fastcgi.server = ( ".php" => (( "bin-path" => "/usr/bin/php-cgi", "socket" => "${dir}/php.socket", ` +
          '"max-procs" => 1, "bin-environment" => ( "PHP_FCGI_CHILDREN" => "1" ) )) )',
      ),
    );
    t.teardown(() => servers.close());
    await sendBoth(servers, 'GET /cookies.php/extra/path?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await sendBoth(
      servers,
      'POST /cookies.php HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 7\r\n\r\nabcdefg',
    );
    const [lighttpd, koa] = await bothLogs(servers, 'access.log', 2);
    t.deepEqual(koa, lighttpd);
    t.regex(koa[0] ?? '', /cookies\.php 6 \d+ "first=one\\r\\nSet-Cookie: second=two%2C%20three" text\/html/);
  },
);
