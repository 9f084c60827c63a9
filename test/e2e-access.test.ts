/**
 * url.access-deny, index-file.names and the lighttpd wiki's hotlink rule, through the
 * `koa-lighty -f` command with the config files a user would write (fixtures/conf/e2e):
 * the consequences listed in spec 5.1, the whole referer table of spec 5.2, and
 * static-file.disable-pathinfo closing the hole of rules written as `$HTTP["url"] =~ "\.jpg$"`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { type RawResponse, rawRequest } from './helpers/http.js';
import { PACKAGE_ROOT, type RunningKoaLighty, startKoaLighty } from './helpers/koa-lighty.js';

const E2E = join(PACKAGE_ROOT, 'fixtures', 'conf', 'e2e');
const WWW = join(E2E, 'www');

function conf(site: string): string {
  return `var.e2e = "${E2E}"\ninclude "${join(E2E, site)}"\nserver.port = PORT\nserver.bind = "127.0.0.1"\n`;
}

const servers: Record<'wiki' | 'urlRegex' | 'closed', RunningKoaLighty | undefined> = {
  wiki: undefined,
  urlRegex: undefined,
  closed: undefined,
};

test.before(async () => {
  [servers.wiki, servers.urlRegex, servers.closed] = await Promise.all([
    startKoaLighty({ conf: conf('access.conf') }),
    startKoaLighty({ conf: conf('hotlink-url.conf') }),
    startKoaLighty({ conf: conf('hotlink-url-closed.conf') }),
  ]);
});

test.after.always(async () => {
  await Promise.allSettled(Object.values(servers).map((s) => s?.stop()));
});

const file = (rel: string) => readFileSync(join(WWW, rel)).toString('latin1');

/**
 * lighttpd's own error page, written out from spec 1.3 rather than imported: this test is the
 * independent oracle for src/http/error-page.ts.
 */
function errorPage(status: number, reason: string): string {
  const title = `${status} ${reason}`;
  return (
    '<?xml version="1.0" encoding="iso-8859-1"?>\n' +
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"\n' +
    '         "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n' +
    '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">\n' +
    ' <head>\n' +
    `  <title>${title}</title>\n` +
    ' </head>\n' +
    ' <body>\n' +
    `  <h1>${title}</h1>\n` +
    ' </body>\n' +
    '</html>\n'
  );
}

type Expect = { status: 200; file: string; type: string } | { status: 403 | 404 | 301; location?: string };

function check(t: import('ava').ExecutionContext, response: RawResponse, expected: Expect, what: string) {
  t.is(response.status, expected.status, what);
  const body = response.body.toString('latin1');
  if (expected.status === 200) {
    t.is(body, file(expected.file), `${what}: body`);
    t.is(response.headers['content-type'], expected.type, `${what}: Content-Type`);
  } else if (expected.status === 403) {
    t.is(body, errorPage(403, 'Forbidden'), `${what}: error page`);
    t.is(response.headers['content-length'], '341', `${what}: Content-Length`);
  } else if (expected.status === 404) {
    t.is(body, errorPage(404, 'Not Found'), `${what}: error page`);
  } else {
    t.is<string | undefined, string | undefined>(
      response.headers['location'],
      expected.location,
      `${what}: Location`,
    );
  }
}

const jpg = (f = 'pic.jpg') => ({ status: 200, file: f, type: 'image/jpeg' }) as const;
const forbidden = { status: 403 } as const;

test('url.access-deny ("~", ".inc"): the consequences of spec 5.1', async (t) => {
  const port = servers.wiki!.port;
  const cases: Array<[string, Expect, string?]> = [
    ['/config.inc', forbidden],
    ['/nothing-here.inc', forbidden], // denied before any file check: 403, not 404
    ['/config.inc/', forbidden], // second check, after path-info was cut
    ['/config.inc/more/path', forbidden],
    ['/config%2einc', forbidden],
    ['/config.inc?x=1', forbidden], // the query is not part of the path
    ['/sub/../config.inc', forbidden],
    ['/sub/%2e%2e/config.inc', forbidden],
    ['/notes.txt~', forbidden],
    ['/Settings.INC', { status: 200, file: 'Settings.INC', type: 'text/plain' }], // case-sensitive
    ['/config.inc', forbidden, 'POST'], // any method
    ['/config.inc', forbidden, 'OPTIONS'],
  ];
  for (const [path, expected, method] of cases) {
    check(t, await rawRequest(port, path, {}, method ?? 'GET'), expected, `${method ?? 'GET'} ${path}`);
  }
});

test('index-file.names: / and /sub/ serve their index; /sub → 301 /sub/; a directory without index → 403', async (t) => {
  const port = servers.wiki!.port;
  check(t, await rawRequest(port, '/'), { status: 200, file: 'index.html', type: 'text/html' }, 'GET /');
  check(t, await rawRequest(port, '/sub'), { status: 301, location: '/sub/' }, 'GET /sub');
  check(t, await rawRequest(port, '/sub?a=b'), { status: 301, location: '/sub/?a=b' }, 'GET /sub?a=b');
  check(t, await rawRequest(port, '/noindex/'), forbidden, 'GET /noindex/');
  check(t, await rawRequest(port, '/missing.html'), { status: 404 }, 'GET /missing.html');
});

test('a block replaces the outer deny list: under /sub/ only index.html is denied, checked after index-file', async (t) => {
  const port = servers.wiki!.port;
  check(t, await rawRequest(port, '/sub/'), forbidden, 'GET /sub/ (index.html appended before check #2)');
  check(t, await rawRequest(port, '/sub/index.html'), forbidden, 'GET /sub/index.html');
  check(t, await rawRequest(port, '/sub/x.inc'), { status: 404 }, 'GET /sub/x.inc (.inc not denied here)');
  check(
    t,
    await rawRequest(port, '/sub/page.txt'),
    { status: 200, file: 'sub/page.txt', type: 'text/plain' },
    'GET /sub/page.txt',
  );
});

test('url.access-allow: only the listed suffixes pass and the deny list is ignored', async (t) => {
  const port = servers.wiki!.port;
  check(t, await rawRequest(port, '/allow/'), forbidden, 'GET /allow/ (check #1 sees "/allow/")');
  check(
    t,
    await rawRequest(port, '/allow/index.html'),
    { status: 200, file: 'allow/index.html', type: 'text/html' },
    'GET /allow/index.html',
  );
  check(t, await rawRequest(port, '/allow/page.txt'), forbidden, 'GET /allow/page.txt');
  check(
    t,
    await rawRequest(port, '/allow/secret.inc'),
    { status: 200, file: 'allow/secret.inc', type: 'text/plain' },
    'GET /allow/secret.inc (".inc" allowed; the deny list is ignored)',
  );
});

/** spec 5.2, for the wiki's rule `$HTTP["referer"] !~ "^($|http://www\.example\.org)" { url.access-deny = (".jpg", …) }`. */
const refererTable: Array<[string, Record<string, string>, Expect]> = [
  ['/pic.jpg', {}, jpg()],
  ['/pic.jpg', { Referer: '' }, jpg()],
  ['/pic.jpg', { Referer: 'http://www.example.org/page' }, jpg()],
  ['/pic.jpg', { Referer: 'http://www.example.org.evil.com/' }, jpg()],
  ['/pic.jpg', { Referer: 'https://www.example.org/' }, forbidden],
  ['/pic.jpg', { Referer: 'http://evil.example/' }, forbidden],
  ['/pic.jpg', { Referer: 'http://www.example.org/\xff' }, forbidden], // the byte 0xFF: invalid UTF-8
  ['/pic.jpg', { Referer: '\xff' }, forbidden],
  ['/logo.png', { Referer: 'http://evil.example/' }, forbidden],
  ['/pic.jpg/x', { Referer: 'http://evil.example/' }, forbidden], // denied by the second check
  ['/pic.jpg/', { Referer: 'http://evil.example/' }, forbidden],
  ['/pic.jpg/x', {}, jpg()], // path-info after a static file: the jpg is served
  [
    '/index.html',
    { Referer: 'http://evil.example/' },
    { status: 200, file: 'index.html', type: 'text/html' },
  ],
];

for (const [path, headers, expected] of refererTable) {
  const shown = 'Referer' in headers ? JSON.stringify(headers.Referer) : 'absent';
  test(`hotlink rule of the lighttpd wiki: GET ${path} with Referer ${shown} → ${expected.status}`, async (t) => {
    check(t, await rawRequest(servers.wiki!.port, path, headers), expected, `GET ${path}`);
  });
}

test('the referer 0xFF is really sent as one raw byte (the case is not a UTF-8 "ÿ")', async (t) => {
  // rawRequest writes header values as latin1: '\xff' is one byte, which no HTTP client library sends.
  const { connect } = await import('node:net');
  const response = await new Promise<string>((resolve, reject) => {
    const socket = connect(servers.wiki!.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.write(
      Buffer.concat([
        Buffer.from(
          'GET /pic.jpg HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nReferer: http://www.example.org/',
        ),
        Buffer.from([0xff]),
        Buffer.from('\r\n\r\n'),
      ]),
    );
  });
  t.regex(response, /^HTTP\/1\.1 403 /);
});

test('the hotlink rule written as $HTTP["url"] =~ "\\.(jpe?g|png)$": /pic.jpg/x escapes it (spec 5.2, last row)', async (t) => {
  const port = servers.urlRegex!.port;
  check(
    t,
    await rawRequest(port, '/pic.jpg', { Referer: 'http://evil.example/' }),
    forbidden,
    'evil /pic.jpg',
  );
  check(t, await rawRequest(port, '/pic.jpg'), jpg(), 'no referer /pic.jpg');
  check(
    t,
    await rawRequest(port, '/pic.jpg/x', { Referer: 'http://evil.example/' }),
    jpg(),
    'evil /pic.jpg/x (the hole)',
  );
  check(
    t,
    await rawRequest(port, '/pic.jpg/', { Referer: 'http://evil.example/' }),
    jpg(),
    'evil /pic.jpg/ (the hole)',
  );
});

test('static-file.disable-pathinfo closes that hole: /pic.jpg/x is not sent to anyone', async (t) => {
  const port = servers.closed!.port;
  check(
    t,
    await rawRequest(port, '/pic.jpg', { Referer: 'http://evil.example/' }),
    forbidden,
    'evil /pic.jpg',
  );
  check(
    t,
    await rawRequest(port, '/pic.jpg/x', { Referer: 'http://evil.example/' }),
    forbidden,
    'evil /pic.jpg/x',
  );
  check(
    t,
    await rawRequest(port, '/pic.jpg/', { Referer: 'http://evil.example/' }),
    forbidden,
    'evil /pic.jpg/',
  );
  check(t, await rawRequest(port, '/pic.jpg/x'), forbidden, 'no referer /pic.jpg/x');
  check(t, await rawRequest(port, '/pic.jpg'), jpg(), 'no referer /pic.jpg');
  check(
    t,
    await rawRequest(port, '/pic.jpg', { Referer: 'http://www.example.org/gallery' }),
    jpg(),
    'own site /pic.jpg',
  );
});

test('none of the three servers warned about an option it does not support', (t) => {
  for (const [name, server] of Object.entries(servers)) {
    t.notRegex(server!.output(), /not supported/, name);
  }
});
