/**
 * A Pi-hole-style lighttpd.conf (fixtures/conf/pihole) under Debian's lighttpd 1.4.69 and
 * under `koa-lighty -f`: the admin pages' security headers (mod_setenv in nested blocks),
 * mod_expire, the blocking page through server.error-handler-404, and the pipe-separated
 * access log. `koa-lighty -t` must accept it without a single "not supported" line.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { type RawResponse, rawRequest } from './helpers/http.js';
import { PACKAGE_ROOT, type RunningKoaLighty, runCli, startKoaLighty } from './helpers/koa-lighty.js';
import { type RunningLighttpd, startLighttpd } from './helpers/lighttpd.js';
import { eventually } from './helpers/wait.js';

const PIHOLE = join(PACKAGE_ROOT, 'fixtures', 'conf', 'pihole');

function wrapper(dir: string): string {
  return [
    `var.pihole = "${PIHOLE}"`,
    `var.sockdir = "${dir}"`,
    `var.logdir = "${dir}"`,
    `include "${join(PIHOLE, 'lighttpd.conf')}"`,
    '',
  ].join('\n');
}

const lighttpdDir = mkdtempSync(join(tmpdir(), 'koa-lighty-pihole-l-'));
const koaDir = mkdtempSync(join(tmpdir(), 'koa-lighty-pihole-k-'));
let lighttpd: RunningLighttpd | undefined;
let koa: RunningKoaLighty | undefined;

test.before(async () => {
  [lighttpd, koa] = await Promise.all([
    startLighttpd(wrapper(lighttpdDir)),
    startKoaLighty({ conf: `${wrapper(koaDir)}server.port = PORT\nserver.bind = "127.0.0.1"\n` }),
  ]);
});

test.after.always(async () => {
  await Promise.allSettled([koa?.stop(), lighttpd?.stop()]);
  rmSync(lighttpdDir, { recursive: true, force: true });
  rmSync(koaDir, { recursive: true, force: true });
});

const HEADERS = [
  'content-type',
  'cache-control',
  'location',
  'x-pi-hole',
  'x-frame-options',
  'x-xss-protection',
  'x-content-type-options',
  'content-security-policy',
  'x-permitted-cross-domain-policies',
  'referrer-policy',
];

function seen(r: RawResponse) {
  const view: Record<string, string | number | undefined> = {
    status: r.status,
    body: r.body.toString('latin1'),
  };
  for (const name of HEADERS) view[name] = r.headers[name];
  return view;
}

const requests: Array<{ path: string; headers?: Record<string, string>; expect: number }> = [
  { path: '/', expect: 200 },
  { path: '/admin/', expect: 200 },
  { path: '/admin/index.php?tab=dns', expect: 200 },
  { path: '/admin/style.css', expect: 200 },
  { path: '/admin/scripts/app.js', expect: 200 },
  // lighttpd's server.error-handler-404 also answers its 403s: the blocking page, never the file.
  { path: '/admin/.secret', expect: 200 },
  { path: '/admin/teleporter.php', expect: 200 },
  { path: '/admin/teleporter.php', headers: { Referer: 'http://pi.hole/admin/settings.php' }, expect: 200 },
  { path: '/ads/banner.js', expect: 200 },
  { path: '/admin/notes.md', expect: 200 },
];

for (const r of requests) {
  test(`Pi-hole conf: GET ${r.path}${r.headers ? ' with a Referer' : ''}`, async (t) => {
    const [expected, actual] = await Promise.all([
      rawRequest(lighttpd!.port, r.path, r.headers),
      rawRequest(koa!.port, r.path, r.headers),
    ]);
    t.is(expected.status, r.expect, 'lighttpd answers as the case says');
    t.deepEqual(seen(actual), seen(expected));
  });
}

test('Pi-hole conf: the access log lines are lighttpd’s (but for the time)', async (t) => {
  const path = '/admin/index.php?log=1';
  await Promise.all([rawRequest(lighttpd!.port, path), rawRequest(koa!.port, path)]);
  const last = (dir: string) => {
    const lines = readFileSync(join(dir, 'access-pihole.log'), 'utf8').trim().split('\n');
    return lines.filter((line) => line.includes('log=1')).at(-1) ?? '';
  };
  await eventually(() => last(koaDir) !== '' && last(lighttpdDir) !== '');
  const fields = (line: string) => line.split('|').slice(1);
  t.regex(last(koaDir), /^\d{10}\|/);
  t.deepEqual(fields(last(koaDir)), fields(last(lighttpdDir)));
});

test('Pi-hole conf: koa-lighty -t accepts it without a "not supported" line', async (t) => {
  const result = await runCli(['-t', '-f', koa!.confFile!]);
  t.is(result.code, 0, result.stderr);
  t.notRegex(result.stderr, /not supported/, result.stderr);
});
