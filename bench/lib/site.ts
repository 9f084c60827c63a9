import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, type Started, start, waitForPort } from './proc.js';

export const BENCH_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT = join(BENCH_DIR, '..');

/**
 * The files every server serves, in one temp dir:
 *   www/      document root: the PHP scripts of bench/fixtures, static/1k.bin and static/1k.txt
 *   files/    send-file and secdownload directory (outside the document root): 1k.bin, 1m.bin
 *   tls/      a self-signed certificate for 127.0.0.1 (the HTTPS and HTTP/2 workloads)
 */
export interface Site {
  dir: string;
  docroot: string;
  files: string;
  secret: string;
  tls: SiteCertificate;
  remove(): Promise<void>;
}

export async function createSite(
  options: { bigFiles?: { name: string; bytes: number }[] } = {},
): Promise<Site> {
  const dir = await mkdtemp(join(tmpdir(), 'koa-lighty-bench-'));
  const docroot = join(dir, 'www');
  const files = join(dir, 'files');
  await mkdir(join(docroot, 'static'), { recursive: true });
  await mkdir(files, { recursive: true });
  for (const name of await readdir(join(BENCH_DIR, 'fixtures'))) {
    if (name.endsWith('.php')) await copyFile(join(BENCH_DIR, 'fixtures', name), join(docroot, name));
  }
  // Random bytes, so nobody's compression or caching of repeated patterns flatters anyone.
  const oneK = randomBytes(1024);
  await writeFile(join(docroot, 'static', '1k.bin'), oneK);
  await writeFile(join(docroot, 'static', '1k.txt'), textKiB());
  await writeFile(join(files, '1k.bin'), oneK);
  await writeFile(join(files, '1m.bin'), randomBytes(1 << 20));
  for (const big of options.bigFiles ?? []) await writeSparseFree(join(files, big.name), big.bytes);
  return {
    dir,
    docroot,
    files,
    secret: randomBytes(12).toString('hex'),
    tls: await selfSignedCertificate(join(dir, 'tls')),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

export interface SiteCertificate {
  certFile: string;
  keyFile: string;
  /** Certificate then key, as lighttpd's ssl.pemfile holds them. */
  pemFile: string;
}

/**
 * One certificate for every server's TLS listener, made with Debian's openssl: EC P-256 (what
 * a Let's Encrypt client makes by default), for 127.0.0.1. The load generators do not verify it.
 */
async function selfSignedCertificate(dir: string): Promise<SiteCertificate> {
  await mkdir(dir, { recursive: true });
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  const pemFile = join(dir, 'server.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '30',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  await writeFile(pemFile, (await readFile(certFile, 'utf8')) + (await readFile(keyFile, 'utf8')));
  return { certFile, keyFile, pemFile };
}

/** Words in a random order: 1 KiB of text that compresses like prose (about 2:1), not like one repeated line. */
export function textKiB(): Buffer {
  const words = [
    'server',
    'request',
    'the',
    'file',
    'answer',
    'php',
    'of',
    'a',
    'header',
    'client',
    'and',
    'body',
  ];
  const picks = randomBytes(1024);
  let text = '';
  for (let i = 0; text.length < 1024; i++)
    text += `${words[picks[i]! % words.length]}${i % 12 === 11 ? '\n' : ' '}`;
  return Buffer.from(text.slice(0, 1024));
}

/** A big file of real (non-sparse) bytes, written 1 MiB at a time. */
async function writeSparseFree(path: string, bytes: number): Promise<void> {
  const handle = await open(path, 'w');
  const chunk = randomBytes(1 << 20);
  try {
    for (let written = 0; written < bytes; written += chunk.length) {
      await handle.write(chunk, 0, Math.min(chunk.length, bytes - written));
    }
  } finally {
    await handle.close();
  }
}

/** lighttpd's secdownload link (the wiki's PHP snippet): /dl/ md5(secret + path + hex time) / hex time path. */
export function secdownloadPath(secret: string, relPath: string, now = Math.floor(Date.now() / 1000)) {
  const hexTime = now.toString(16).padStart(8, '0');
  const digest = createHash('md5')
    .update(secret + relPath + hexTime)
    .digest();
  return {
    lighttpd: `/dl/${digest.toString('hex')}/${hexTime}${relPath}`,
    // nginx's secure_link reads the same md5, written in base64url without padding.
    nginx: `/dl/${digest.toString('base64url')}/${hexTime}${relPath}`,
  };
}

export interface PhpPool {
  host: string;
  port: number;
  proc: Started;
  stop(): Promise<void>;
}

/**
 * One php-cgi pool for all servers: `php-cgi -b 127.0.0.1:PORT`, 4 children, no recycling
 * (PHP_FCGI_MAX_REQUESTS very large), no limit on POST size, no time limit.
 */
export async function startPhp(children = 4): Promise<PhpPool> {
  const port = await freePort();
  const env = {
    ...process.env,
    PHP_FCGI_CHILDREN: String(children),
    PHP_FCGI_MAX_REQUESTS: '1000000000',
  };
  const args = ['-d', 'post_max_size=0', '-d', 'max_execution_time=0', '-b', `127.0.0.1:${port}`];
  const proc = start('php-cgi', 'php-cgi', args, env);
  await waitForPort(port, proc);
  return { host: '127.0.0.1', port, proc, stop: () => proc.stop() };
}

/** Fills {{NAME}} placeholders; an unknown one is an error, so a template typo cannot pass. */
export async function renderTemplate(name: string, values: Record<string, string | number>): Promise<string> {
  const text = await readFile(join(BENCH_DIR, 'configs', name), 'utf8');
  return text.replace(/\{\{([A-Z_]+)\}\}/g, (_, key: string) => {
    if (!(key in values)) throw new Error(`configs/${name}: no value for {{${key}}}`);
    return String(values[key]);
  });
}

export function exists(path: string): boolean {
  return existsSync(path);
}
