/**
 * The site both authorizer tests put behind a front server (nginx, lighttpd): a document root
 * for the front, a secdownload root, and the lighttpd.conf koa-lighty's authorizer reads, with
 * every protection it has: url.access-deny, a hotlink rule on the Referer, secdownload,
 * trigger-before-download and mod_auth. The confs are those of examples/authorizer/ (the
 * README's). The authorizer runs in this process, on a free port.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import type { EndpointAddress } from '../src/authorizer/endpoints.js';
import { type RunningAuthorizer, startAuthorizer } from '../src/authorizer/start.js';
import { memoryLogger } from '../src/log.js';
import { secdownloadUrl } from '../src/secdownload/url.js';
import { loadConfig } from '../src/server/app.js';
import { onFreePort } from './helpers/ports.js';

const EXAMPLES = fileURLToPath(new URL('../examples/authorizer/', import.meta.url));

/** As in examples/authorizer/lighttpd.conf. */
export const SECRET = 'change-this-secret';
export const DENY_URL = 'http://127.0.0.1/please-visit-first';
export const PROTECTED_BODY = 'the protected file\n';
export const DOWNLOAD_BODY = 'a download\n';
/** agent:007 in the plain user file. */
export const GOOD_USER = `Basic ${Buffer.from('agent:007').toString('base64')}`;
export const BAD_USER = `Basic ${Buffer.from('agent:008').toString('base64')}`;

export interface Site {
  /** The front server's document root. */
  www: string;
  /** secdownload.document-root: the front serves the links' files from here. */
  protectedRoot: string;
  confFile: string;
  remove(): void;
}

export function makeSite(): Site {
  const dir = mkdtempSync(join(tmpdir(), 'koa-lighty-authorizer-'));
  const www = join(dir, 'www');
  const protectedRoot = join(dir, 'protected');
  for (const sub of ['downloads', 'gallery', 'admin']) mkdirSync(join(www, sub), { recursive: true });
  mkdirSync(protectedRoot);
  writeFileSync(join(www, 'index.html'), '<p>home</p>\n');
  writeFileSync(join(www, 'config.inc'), '<?php $password = "leaked"; ?>\n');
  writeFileSync(join(www, 'downloads', 'file.bin'), DOWNLOAD_BODY);
  writeFileSync(join(www, 'gallery', 'sea.png'), 'not really a png\n');
  writeFileSync(join(www, 'admin', 'index.html'), '<p>admin</p>\n');
  writeFileSync(join(protectedRoot, 'report.txt'), PROTECTED_BODY);
  writeFileSync(join(dir, 'users'), 'agent:007\n');
  const confFile = join(dir, 'lighttpd.conf');
  writeFileSync(
    confFile,
    example('lighttpd.conf', {
      '/srv/www': www,
      '/srv/protected': protectedRoot,
      '/etc/koa-lighty/users': join(dir, 'users'),
    }),
  );
  return { www, protectedRoot, confFile, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A file of examples/authorizer/ (the README's), each `from` replaced by its `to`. */
export function example(name: string, replace: Record<string, string>): string {
  let text = readFileSync(join(EXAMPLES, name), 'utf8');
  for (const [from, to] of Object.entries(replace)) {
    if (!text.includes(from)) throw new Error(`examples/authorizer/${name} no longer has ${from}`);
    text = text.replaceAll(from, to);
  }
  return text;
}

/** A link to /report.txt signed `secondsAgo` before now. */
export function link(secondsAgo = 0): string {
  return secdownloadUrl({
    secret: SECRET,
    uriPrefix: '/dl/',
    algorithm: 'hmac-sha256',
    path: '/report.txt',
    timestamp: Math.floor(Date.now() / 1000) - secondsAgo,
  });
}

/** A good link with one character of its MAC changed. */
export function tamperedLink(): string {
  const good = link();
  const at = '/dl/'.length;
  const flipped = good[at] === 'A' ? 'B' : 'A';
  return `${good.slice(0, at)}${flipped}${good.slice(at + 1)}`;
}

/** The authorizer of the site's conf on a free port of 127.0.0.1. */
export function startSiteAuthorizer(
  site: Site,
  endpoint: 'fastcgi' | 'http',
  options: { addressHeader?: string; nginx?: boolean } = {},
): Promise<{ port: number; authorizer: RunningAuthorizer }> {
  const loaded = loadConfig(site.confFile);
  return onFreePort(async (port) => {
    const address: EndpointAddress = { host: '127.0.0.1', port };
    const authorizer = await startAuthorizer(loaded, {
      [endpoint]: address,
      ...options,
      log: memoryLogger(),
    });
    return { port, authorizer };
  });
}

/** How a test reaches the site through its front server. */
export type FrontGet = (
  path: string,
  options?: { from?: string; headers?: Record<string, string> },
) => Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }>;

/**
 * The checks both front servers must pass, as a user of the site sees them: links, the
 * secdownload root, url.access-deny, the hotlink rule, the trigger and mod_auth.
 */
export function protectionTests(
  front: { name: string; serverHeader?: RegExp; expiredNote?: string },
  get: FrontGet,
): void {
  test(`a valid secdownload link passes: ${front.name} serves the file`, async (t) => {
    const answer = await get(link());
    t.is(answer.status, 200);
    t.is(answer.body.toString(), PROTECTED_BODY);
  });

  test(`a tampered link is refused by ${front.name} with 403`, async (t) => {
    const answer = await get(tamperedLink());
    t.is(answer.status, 403);
    if (front.serverHeader) t.regex(String(answer.headers.server), front.serverHeader);
    t.notRegex(answer.body.toString(), /protected file/);
  });

  test(`an expired link is 410${front.expiredNote ?? ''}`, async (t) => {
    const answer = await get(link(7200));
    t.is(answer.status, 410);
    t.notRegex(answer.body.toString(), /protected file/);
  });

  test('the secdownload root itself is closed: only links open it', async (t) => {
    t.is((await get('/protected/report.txt')).status, 403);
  });

  test('url.access-deny is applied', async (t) => {
    const answer = await get('/config.inc');
    t.is(answer.status, 403);
    t.notRegex(answer.body.toString(), /leaked/);
  });

  test('a hotlinked image is denied; from the site itself or without a Referer it is served', async (t) => {
    t.is((await get('/gallery/sea.png', { headers: { Referer: 'http://elsewhere.example/' } })).status, 403);
    t.is((await get('/gallery/sea.png', { headers: { Referer: 'http://127.0.0.1/page' } })).status, 200);
    t.is((await get('/gallery/sea.png')).status, 200);
  });

  test('trigger: a download needs a visit first, and the visit counts for that client only', async (t) => {
    const refused = await get('/downloads/file.bin', { from: '127.0.0.2' });
    t.is(refused.status, 307);
    t.is(refused.headers.location, DENY_URL);

    t.is((await get('/index.html', { from: '127.0.0.2' })).status, 200);
    const allowed = await get('/downloads/file.bin', { from: '127.0.0.2' });
    t.is(allowed.status, 200);
    t.is(allowed.body.toString(), DOWNLOAD_BODY);

    const other = await get('/downloads/file.bin', { from: '127.0.0.3' });
    t.is(other.status, 307);
  });

  test('mod_auth: 401 with the challenge, then the right password passes and a wrong one does not', async (t) => {
    const challenged = await get('/admin/');
    t.is(challenged.status, 401);
    t.regex(String(challenged.headers['www-authenticate']), /^Basic realm="staff"/);
    const admitted = await get('/admin/', { headers: { Authorization: GOOD_USER } });
    t.is(admitted.status, 200);
    t.regex(admitted.body.toString(), /admin/);
    t.is((await get('/admin/', { headers: { Authorization: BAD_USER } })).status, 401);
  });
}
