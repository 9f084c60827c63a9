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
