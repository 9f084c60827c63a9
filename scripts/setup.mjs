#!/usr/bin/env node
// The one set-up step behind `npm start`, `npm test` and `npm run bench`: it installs what is
// missing and does nothing when everything is there, so it is cheap to run every time.
//   --for-tests  also needs memcached, lighttpd (the oracle, with mod_deflate and mod_openssl),
//                curl and openssl (the TLS tests), chromium (the browser test), nginx (in front
//                of the authorizer) and Node 24 LTS from npm (the suite runs on the machine's
//                Node and on Node 24)
//   --for-bench  also needs lighttpd (with mod_openssl), nginx, wrk and h2load
//   --quiet      print only what it does, not what it checks
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_24, NODE_24_BIN, NODE_24_DIR } from './node24.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const quiet = args.has('--quiet');
const say = (line) => console.error(`setup: ${line}`);

/**
 * Debian packages by what proves each is installed: a binary on PATH, or (for a lighttpd
 * module, which has none) the module's file.
 */
const debian = [{ bin: 'php-cgi', pkg: 'php-cgi' }];
// The oracle's mod_deflate is packaged apart from lighttpd itself.
const modDeflate = { file: '/usr/lib/lighttpd/mod_deflate.so', pkg: 'lighttpd-mod-deflate' };
// So is its TLS (test/tls-lighttpd.test.ts compares HTTPS listeners).
const modOpenssl = { file: '/usr/lib/lighttpd/mod_openssl.so', pkg: 'lighttpd-mod-openssl' };
if (args.has('--for-tests')) {
  debian.push(
    { bin: 'memcached', pkg: 'memcached' },
    { bin: 'lighttpd', pkg: 'lighttpd' },
    { bin: 'chromium', pkg: 'chromium' },
    // The front server of the authorizer tests (auth_request is in nginx-light).
    { bin: 'nginx', pkg: 'nginx-light' },
    // The TLS and HTTP/2 tests: curl (--http2, --http2-prior-knowledge, --cacert) as a
    // client, openssl for the test CA.
    { bin: 'curl', pkg: 'curl' },
    { bin: 'openssl', pkg: 'openssl' },
  );
  debian.push(modDeflate, modOpenssl);
}
if (args.has('--for-bench')) {
  debian.push(
    { bin: 'lighttpd', pkg: 'lighttpd' },
    { bin: 'nginx', pkg: 'nginx-light' },
    { bin: 'wrk', pkg: 'wrk' },
    // h2load: the HTTP/2 workloads (wrk speaks HTTP/1.1 only).
    { bin: 'h2load', pkg: 'nghttp2-client' },
  );
  // The HTTPS and h2 workloads run every server with a TLS listener.
  debian.push(modDeflate, modOpenssl);
}

const installed = (d) => (d.file ? existsSync(d.file) : onPath(d.bin));

function onPath(bin) {
  for (const dir of ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
    if (existsSync(join(dir, bin))) return true;
  }
  return spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;
}

function installDebian() {
  const missing = [...new Set(debian.filter((d) => !installed(d)).map((d) => d.pkg))];
  if (missing.length === 0) return;
  const command = `apt-get update && apt-get install -y ${missing.join(' ')}`;
  if (process.getuid?.() !== 0) {
    say(`missing Debian packages: ${missing.join(', ')}. Run as root:\n  ${command}`);
    process.exit(1);
  }
  say(`installing ${missing.join(', ')} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', ...missing], {
    stdio: 'inherit',
    env,
  });
  // Debian may start the packaged services; koa-lighty's tests and benchmark start their own.
  for (const service of ['lighttpd', 'nginx', 'memcached']) {
    if (missing.some((p) => p.startsWith(service)))
      spawnSync('service', [service, 'stop'], { stdio: 'ignore' });
  }
}

function installNpm() {
  const lock = join(root, 'package-lock.json');
  const installed = join(root, 'node_modules', '.package-lock.json');
  if (existsSync(installed) && statSync(installed).mtimeMs >= statSync(lock).mtimeMs) return;
  say('installing npm packages (npm ci)');
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
}

/**
 * Node 24 LTS for the second run of the suite: the npm package `node` ships the binary (its
 * preinstall fetches the platform's package from the same registry). Kept in .tools/, pinned
 * in scripts/node24.mjs.
 */
function installNode24() {
  const dir = NODE_24_DIR;
  const bin = NODE_24_BIN;
  if (existsSync(bin)) return;
  say(`installing Node ${NODE_24} from npm into ${dir}`);
  mkdirSync(dir, { recursive: true });
  execFileSync(
    'npm',
    ['install', '--no-save', '--no-audit', '--no-fund', '--prefix', dir, `node@${NODE_24}`],
    {
      cwd: dir,
      stdio: 'inherit',
    },
  );
  if (!existsSync(bin)) {
    say(`npm installed node@${NODE_24} but ${bin} is missing`);
    process.exit(1);
  }
}

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

function build() {
  const stamp = join(root, 'dist', '.tsbuildinfo');
  if (existsSync(stamp) && statSync(stamp).mtimeMs >= newestMtime(join(root, 'src'))) return;
  if (!quiet) say('compiling src/ to dist/');
  execFileSync(
    process.execPath,
    [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
}

installDebian();
installNpm();
if (args.has('--for-tests')) installNode24();
build();
