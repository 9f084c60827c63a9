/**
 * The two download protections through `koa-lighty -f lighttpd.conf`, as a lighttpd user runs
 * them (fixtures/conf/e2e2/):
 * - secdownload with the lighttpd wiki's config (no algorithm line: md5 and one warning) and
 *   the wiki's PHP link generator served by koa-lighty's own php-cgi;
 * - trigger-before-download with the wiki's regexes on a real memcached: expiry, two servers
 *   sharing it, memcached going away and coming back, trusted proxies.
 * A "visitor" is a loopback source address (127.0.0.x): the identity is the peer address.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import test, { type ExecutionContext } from 'ava';
import { type Answer, httpGet, rawRequest } from './helpers/http.js';
import { PACKAGE_ROOT, runCli, startKoaLighty } from './helpers/koa-lighty.js';
import { type RunningMemcached, startMemcached } from './helpers/memcached.js';
import { eventually } from './helpers/wait.js';

const E2E2 = join(PACKAGE_ROOT, 'fixtures', 'conf', 'e2e2');
const dir = mkdtempSync(join(tmpdir(), 'koa-lighty-protections-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const fixture = (...parts: string[]) => readFileSync(join(E2E2, ...parts));
const CANARY = 'CANARY-e2e2';

/** `koa-lighty -t` refuses the file: non-zero, no "Syntax OK", the file and a line matching `line` named, and each of `mentions`. */
async function refusedByCheck(t: ExecutionContext, file: string, line: string, mentions: RegExp[]) {
  const r = await runCli(['-t', '-f', file]);
  t.not(r.code, 0, r.stdout);
  t.notRegex(r.stdout, /Syntax OK/);
  t.regex(r.stderr, new RegExp(`${escapeRegex(file)}:${line}\\b`), r.stderr);
  for (const mention of mentions) t.regex(r.stderr, mention);
}

let confCount = 0;
/** Writes a config under the test's temp dir and returns its path. */
function writeConf(text: string): string {
  const path = join(dir, `c${++confCount}.conf`);
  writeFileSync(path, text);
  return path;
}

/** A temp dir for one server's php-cgi socket. */
function sockdir(): string {
  return mkdtempSync(join(dir, 'sock-'));
}

// ---------------------------------------------------------------- secdownload

const secdownloadConf = () =>
  `var.e2e2 = "${E2E2}"\nvar.sockdir = "${sockdir()}"\ninclude e2e2 + "/secdownload.conf"\n` +
  'server.port = PORT\nserver.bind = "127.0.0.1"\n';

/** Opens the PHP page that prints a link for `file` and returns the link (href, unescaped). */
async function linkFor(port: number, file: string): Promise<string> {
  const page = await get(port, `/secdownload-link.php?f=${encodeURIComponent(file)}`);
  if (page.status !== 200) throw new Error(`the link page answered ${page.status}: ${page.body}`);
  const href = /<a href="([^"]+)">/.exec(page.body.toString())?.[1];
  if (!href) throw new Error(`no link on the page: ${page.body}`);
  return href.replace(/&amp;/g, '&');
}

test('secdownload: the wiki PHP page’s link opens, expires (410), refuses tampering (403), takes upper-case hex; md5 warned once', async (t) => {
  const server = await startKoaLighty({ conf: secdownloadConf() });
  t.teardown(() => server.stop());

  // No secdownload.algorithm: md5, with exactly one warning at start.
  const warnings = server
    .output()
    .split('\n')
    .filter((line) => line.includes('secdownload.algorithm'));
  t.is(warnings.length, 1, server.output());
  t.regex(warnings[0]!, /warning/i);
  t.regex(warnings[0]!, /md5/);

  const link = await linkFor(server.port, '/report.txt');
  t.regex(link, /^\/dl\/[0-9a-f]{32}\/[0-9a-f]{8}\/report\.txt$/);
  const opened = await get(server.port, link);
  t.is(opened.status, 200);
  t.deepEqual(opened.body, fixture('dl', 'report.txt'));
  t.is(opened.headers['content-type'], 'text/plain');

  const deep = await get(server.port, await linkFor(server.port, '/sub/deep.txt'));
  t.is(deep.status, 200);
  t.deepEqual(deep.body, fixture('dl', 'sub', 'deep.txt'));

  // Tampered: one hex digit of the MAC, the file name, the timestamp.
  const [, , mac, ts, ...rest] = link.split('/');
  const flip = (c: string) => (c === '0' ? '1' : '0');
  const tampered = [
    `/dl/${flip(mac![0]!)}${mac!.slice(1)}/${ts}/${rest.join('/')}`,
    `/dl/${mac}/${ts}/sub/deep.txt`,
    `/dl/${mac}/${(Number.parseInt(ts!, 16) - 1).toString(16).padStart(8, '0')}/${rest.join('/')}`,
  ];
  for (const path of tampered) {
    const answer = await get(server.port, path);
    t.is(answer.status, 403, path);
    t.false(answer.body.includes('report.txt: a file'), path);
  }

  // md5 links from PHP are lower-case; upper-case hex is the same MAC (lighttpd accepted it).
  const fresh = await linkFor(server.port, '/report.txt');
  const [, , freshMac, freshTs, ...freshRest] = fresh.split('/');
  const upper = `/dl/${freshMac!.toUpperCase()}/${freshTs}/${freshRest.join('/')}`;
  t.not(upper, fresh);
  const upperAnswer = await get(server.port, upper);
  t.is(upperAnswer.status, 200, upper);
  t.deepEqual(upperAnswer.body, fixture('dl', 'report.txt'));

  // secdownload.timeout = 2: the first link, 3.2 s later, is gone (410), not forbidden.
  await sleep(3200);
  const expired = await get(server.port, link);
  t.is(expired.status, 410, link);
  t.false(expired.body.includes('report.txt: a file'));
});

test('secdownload: ../, %2e%2e and %2f in a link (even one the page signed) never serve a file outside secdownload.document-root', async (t) => {
  const server = await startKoaLighty({ conf: secdownloadConf() });
  t.teardown(() => server.stop());
  // The page signs whatever ?f= it is given: an attacker gets valid MACs for these paths,
  // written plainly and encoded. Each link is used at once, well within its 2 s.
  const variants = (link: string, target: string) => {
    const [, , mac, ts] = link.split('/');
    const tail = target.slice(1);
    return [
      link,
      `/dl/${mac}/${ts}/${tail.replace(/\.\./g, '%2e%2e')}`,
      `/dl/${mac}/${ts}/${tail.replace(/\.\./g, '%2E%2E')}`,
      `/dl/${mac}/${ts}/${tail.replace(/\//g, '%2f')}`,
      `/dl/${mac}/${ts}/${tail.replace(/\.\./g, '%2e%2e').replace(/\//g, '%2F')}`,
      `/dl/${mac}/${ts}/${tail.replace(/\//g, '%5c')}`,
    ];
  };
  const targets = [
    '/../outside/canary.txt',
    '/../../outside/canary.txt',
    '/sub/../../outside/canary.txt',
    '/%2e%2e/outside/canary.txt',
    '/..%2foutside%2fcanary.txt',
    '/%2e%2e%2foutside/canary.txt',
  ];
  let tried = 0;
  for (const target of targets) {
    const link = await linkFor(server.port, target);
    for (const path of variants(link, target)) {
      const answer = await rawRequest(server.port, path);
      tried++;
      t.false(answer.body.toString('latin1').includes(CANARY), `${path} served the canary`);
      t.true([400, 403, 404].includes(answer.status), `${path}: ${answer.status}`);
    }
  }
  t.is(tried, 36);
  // The server is still fine.
  const ok = await get(server.port, await linkFor(server.port, '/report.txt'));
  t.is(ok.status, 200);
});

test('secdownload: a uri-prefix without a secret is refused by koa-lighty -t, naming the file and line', async (t) => {
  const file = writeConf(
    [
      `server.document-root = "${join(E2E2, 'www')}"`,
      'server.modules = ( "mod_secdownload" )',
      `secdownload.document-root = "${join(E2E2, 'dl')}"`,
      'secdownload.uri-prefix = "/dl/"',
      'secdownload.timeout = 2',
      'server.port = 8081',
      '',
    ].join('\n'),
  );
  await refusedByCheck(t, file, '4', [/secdownload\.secret/]);
});

// ---------------------------------------------------------------- trigger-before-download

const triggerConf = (memcache: RunningMemcached, extra = '') =>
  `var.e2e2 = "${E2E2}"\nvar.memcache = "${memcache.server}"\ninclude e2e2 + "/trigger-memcached.conf"\n` +
  `${extra}server.port = PORT\nserver.bind = "127.0.0.1"\n`;

/** A download that is denied: 307 to the deny-url, nothing else. */
function assertDenied(t: import('ava').ExecutionContext, answer: Answer, what: string) {
  t.is(answer.status, 307, what);
  t.is(answer.headers['location'], '/visit-first.html', what);
  t.is(answer.body.length, 0, what);
}

test('trigger (memcached): download first → 307; after / → 200; the window slides; 5 s without a visit → 307 again', async (t) => {
  const memcached = await startMemcached();
  t.teardown(() => memcached.stop());
  const server = await startKoaLighty({ conf: triggerConf(memcached) });
  t.teardown(() => server.stop());
  const from = '127.0.0.11';

  assertDenied(t, await get(server.port, '/downloads/movie.mpg', { from }), 'first download');
  const deniedPage = await get(server.port, '/visit-first.html', { from });
  t.is(deniedPage.status, 200);
  t.deepEqual(deniedPage.body, fixture('www', 'visit-first.html'));

  const home = await get(server.port, '/', { from });
  t.is(home.status, 200);
  t.deepEqual(home.body, fixture('www', 'index.html'));
  const movie = await get(server.port, '/downloads/movie.mpg', { from });
  t.is(movie.status, 200);
  t.is(movie.headers['content-type'], 'video/mpeg');
  t.deepEqual(movie.body, fixture('www', 'downloads', 'movie.mpg'));
  // Another visitor has not been to the site.
  assertDenied(t, await get(server.port, '/downloads/clip.wmv', { from: '127.0.0.12' }), 'other visitor');

  // Each download counts as a visit. trigger-timeout is 5 s; memcached's clock ticks once a
  // second, so the item lives 4 to 5 s, or 3 s when a tick comes late. Downloads 1 s apart
  // keep it alive with 2 s to spare for a loaded machine, and the last one comes 6 s
  // after the first, which alone would have been forgotten by then.
  const first = Date.now();
  for (let i = 1; i <= 6; i++) {
    await sleep(1000);
    const again = await get(server.port, i % 2 ? '/downloads/clip.wmv' : '/downloads/movie.mpg', { from });
    const seconds = ((Date.now() - first) / 1000).toFixed(1);
    t.is(again.status, 200, `download ${i + 1}, ${seconds} s after the first`);
  }
  // Nothing for longer than trigger-timeout: the visit is forgotten.
  await sleep(7000);
  assertDenied(t, await get(server.port, '/downloads/movie.mpg', { from }), 'after the timeout');
});

test('trigger (memcached): two koa-lighty servers on one memcached agree (trigger on A, download on B)', async (t) => {
  const memcached = await startMemcached();
  t.teardown(() => memcached.stop());
  const a = await startKoaLighty({ conf: triggerConf(memcached) });
  t.teardown(() => a.stop());
  const b = await startKoaLighty({ conf: triggerConf(memcached) });
  t.teardown(() => b.stop());
  const from = '127.0.0.21';

  assertDenied(t, await get(b.port, '/downloads/movie.mpg', { from }), 'B before any visit');
  t.is((await get(a.port, '/', { from })).status, 200);
  const onB = await get(b.port, '/downloads/movie.mpg', { from });
  t.is(onB.status, 200, 'visited A, downloads from B');
  t.deepEqual(onB.body, fixture('www', 'downloads', 'movie.mpg'));
  assertDenied(t, await get(a.port, '/downloads/movie.mpg', { from: '127.0.0.22' }), 'another visitor on A');
});

test('trigger (memcached): memcached stops → 307 at once (refused, not timed out), the server stays up; it comes back → works again', async (t) => {
  const memcached = await startMemcached();
  t.teardown(() => memcached.stop());
  const server = await startKoaLighty({ conf: triggerConf(memcached) });
  t.teardown(() => server.stop());
  const from = '127.0.0.31';

  t.is((await get(server.port, '/', { from })).status, 200);
  t.is((await get(server.port, '/downloads/movie.mpg', { from })).status, 200, 'memcached up');

  await memcached.stop();
  for (let i = 0; i < 3; i++) {
    assertDenied(t, await get(server.port, '/downloads/movie.mpg', { from }), `memcached down, try ${i + 1}`);
  }
  // Pages without a store lookup, and triggers (logged, the page is served), still work.
  t.is((await get(server.port, '/visit-first.html', { from })).status, 200);
  t.is((await get(server.port, '/', { from })).status, 200);
  // Logged once for the whole outage, however many requests met it.
  await eventually(() => /unreachable/.test(server.output()));
  t.is(server.output().match(/mod_trigger_b4_dl.*unreachable/g)?.length, 1, server.output());
  // "At once": the stopped server's refused connect decided it, not the 500 ms deadline (which
  // would say "gave no answer within"). A stopwatch would measure the machine's load instead.
  t.regex(server.output(), /unreachable \(connect ECONNREFUSED/, server.output());

  await memcached.restart(); // same port, empty
  // koa-lighty reconnects by itself; give memjs a few seconds to notice.
  let answer: Answer | undefined;
  const deadline = Date.now() + 5000;
  do {
    await get(server.port, '/', { from });
    answer = await get(server.port, '/downloads/movie.mpg', { from });
    if (answer.status === 200) break;
    await sleep(200);
  } while (Date.now() < deadline);
  t.is(answer.status, 200, 'memcached is back: trigger then download works again');
  t.deepEqual(answer.body, fixture('www', 'downloads', 'movie.mpg'));
  // And the state really is in the new memcached: a new visitor is still denied.
  assertDenied(t, await get(server.port, '/downloads/movie.mpg', { from: '127.0.0.32' }), 'new visitor');
  t.is(server.output().match(/listening on/g)?.length, 1, 'one start only');
  await eventually(() => /answers again/.test(server.output()));
  t.regex(server.output(), /mod_trigger_b4_dl.*answers again/, 'the end of the outage is logged');
});

test('trigger (memcached): X-Forwarded-For counts only from trusted-proxies', async (t) => {
  const memcached = await startMemcached();
  t.teardown(() => memcached.stop());
  const trusting = await startKoaLighty({
    conf: triggerConf(memcached, 'trigger-before-download.trusted-proxies = ( "127.0.0.1" )\n'),
  });
  t.teardown(() => trusting.stop());
  const plain = await startKoaLighty({
    conf: triggerConf(memcached, 'trigger-before-download.memcache-namespace = "plain-"\n'),
  });
  t.teardown(() => plain.stop());
  const xff = (address: string) => ({ 'X-Forwarded-For': address });

  // Behind a trusted proxy (127.0.0.1) the client is the X-Forwarded-For address.
  t.is((await get(trusting.port, '/', { headers: xff('10.1.1.1') })).status, 200);
  const proxied = await get(trusting.port, '/downloads/movie.mpg', { headers: xff('10.1.1.1') });
  t.is(proxied.status, 200, 'same client behind the proxy');
  t.deepEqual(proxied.body, fixture('www', 'downloads', 'movie.mpg'));
  assertDenied(
    t,
    await get(trusting.port, '/downloads/movie.mpg', { headers: xff('10.2.2.2') }),
    'another client behind the proxy',
  );
  // The proxy's own visits were not stored under its address.
  assertDenied(t, await get(trusting.port, '/downloads/movie.mpg'), 'the proxy itself, without the header');
  // Anyone else claiming 10.1.1.1 is not believed.
  assertDenied(
    t,
    await get(trusting.port, '/downloads/movie.mpg', { from: '127.0.0.41', headers: xff('10.1.1.1') }),
    'untrusted peer claiming 10.1.1.1',
  );

  // Without trusted-proxies the header changes nothing: the identity is the peer.
  const visitor = '127.0.0.42';
  t.is((await get(plain.port, '/', { from: visitor, headers: xff('10.3.3.3') })).status, 200);
  assertDenied(
    t,
    await get(plain.port, '/downloads/movie.mpg', { from: '127.0.0.43', headers: xff('10.3.3.3') }),
    'a header naming the visitor from elsewhere',
  );
  const asPeer = await get(plain.port, '/downloads/movie.mpg', { from: visitor, headers: xff('10.9.9.9') });
  t.is(asPeer.status, 200, 'the visitor itself, whatever the header says');
});

test('trigger: gdbm-filename and memcache-hosts together are refused by koa-lighty -t, naming both', async (t) => {
  const file = writeConf(
    [
      `server.document-root = "${join(E2E2, 'www')}"`,
      'server.modules = ( "mod_trigger_b4_dl" )',
      `trigger-before-download.gdbm-filename = "${join(dir, 'trigger.db')}"`,
      'trigger-before-download.memcache-hosts = ( "127.0.0.1:11211" )',
      'trigger-before-download.trigger-url = "(/$|\\.php)"',
      'trigger-before-download.download-url = "(\\.mpe?g|\\.wmv)"',
      'trigger-before-download.deny-url = "/visit-first.html"',
      'trigger-before-download.trigger-timeout = 2',
      'server.port = 8081',
      '',
    ].join('\n'),
  );
  await refusedByCheck(t, file, '[3-5]', [/gdbm-filename/, /memcache-hosts/]);
});

const get = httpGet;
