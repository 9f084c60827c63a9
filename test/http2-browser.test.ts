/**
 * The demo site over HTTPS and HTTP/2 in a real browser: `koa-lighty -f` on the demo's
 * lighttpd.conf plus a TLS listener as a lighttpd user adds one (`$SERVER["socket"]` with
 * `ssl.engine` and a certificate of a test CA), and the same app served by the Koa helper
 * createServer. Chromium trusts exactly that certificate's key
 * (--ignore-certificate-errors-spki-list), loads the gallery over h2, and the hotlink rule
 * still refuses the images embedded in another origin's page.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer as createPlainServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import type { Browser } from 'playwright-core';
import { memoryLogger } from '../src/log.js';
import { createApp, type LightyApp, loadConfig } from '../src/server/app.js';
import { createServer } from '../src/server/create-server.js';
import { launchChromium } from './helpers/chromium.js';
import { type RunningKoaLighty, startKoaLighty } from './helpers/koa-lighty.js';
import { freePort } from './helpers/ports.js';
import { createTestCa, type TestCa } from './helpers/test-ca.js';
import { eventually } from './helpers/wait.js';

const IMAGES = ['/gallery/sunset.png', '/gallery/sea.png', '/gallery/forest.png'];
const PACKAGE_ROOT = fileURLToPath(new URL('../', import.meta.url));
const DEMO_CONFIG = fileURLToPath(new URL('../fixtures/demo/lighttpd.conf', import.meta.url));

let ca: TestCa | undefined;
let lighty: LightyApp | undefined;
let secure: ReturnType<typeof createServer> | undefined;
let elsewhere: Server | undefined;
let browser: Browser | undefined;
let cli: RunningKoaLighty | undefined;
/** The Koa helper's port. */
let port = 0;
/** The TLS listener of `koa-lighty -f`. */
let cliPort = 0;
let elsewherePort = 0;

/** The base64 SHA-256 of a certificate's public key, as Chromium's SPKI list takes it. */
function spkiHash(certFile: string): string {
  const pub = execFileSync('openssl', ['x509', '-in', certFile, '-pubkey', '-noout']);
  const der = execFileSync('openssl', ['pkey', '-pubin', '-outform', 'der'], { input: pub });
  return execFileSync('openssl', ['dgst', '-sha256', '-binary'], { input: der }).toString('base64');
}

test.before(async () => {
  ca = createTestCa();
  const cert = ca.issue('localhost', { names: ['localhost'] });
  port = await freePort();
  lighty = createApp(
    loadConfig(DEMO_CONFIG, {
      env: { ...process.env, KOA_LIGHTY_HOME: PACKAGE_ROOT, KOA_LIGHTY_DEMO_PORT: String(port) },
    }),
    { log: memoryLogger() },
  );
  await lighty.ready();
  secure = createServer(lighty.app, {
    log: memoryLogger(),
    tls: { cert: readFileSync(cert.certFile), key: readFileSync(cert.keyFile) },
  });
  await new Promise<void>((resolve) => secure!.listen(port, '127.0.0.1', resolve));
  cliPort = await freePort();
  cli = await startKoaLighty({
    timeoutMs: 60_000,
    conf: [
      `include "${DEMO_CONFIG}"`,
      'server.modules += ( "mod_openssl" )',
      `$SERVER["socket"] == "127.0.0.1:${cliPort}" {`,
      '  ssl.engine = "enable"',
      `  ssl.pemfile = "${cert.pemFile}"`,
      // The demo's hotlink rule names its clear port: pages of this listener may show the
      // images too, as a user adding HTTPS to that conf would write it.
      `  $HTTP["referer"] =~ "^https://localhost:${cliPort}/" {`,
      '    url.access-deny = ()',
      '  }',
      '}',
      '',
    ].join('\n'),
  });
  elsewhere = createPlainServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(
      `<!DOCTYPE html><html><head><title>hotlinker</title></head><body>\n${[port, cliPort]
        .flatMap((p) => IMAGES.map((src) => `<img src="https://localhost:${p}${src}" alt="${src}">`))
        .join('\n')}\n</body></html>`,
    );
  });
  await new Promise<void>((resolve) => elsewhere!.listen(0, '127.0.0.1', resolve));
  elsewherePort = (elsewhere.address() as AddressInfo).port;
  browser = await launchChromium([
    '--host-resolver-rules=MAP localhost 127.0.0.1',
    `--ignore-certificate-errors-spki-list=${spkiHash(cert.certFile)}`,
  ]);
});

test.after.always(async () => {
  await browser?.close();
  await new Promise((resolve) => (elsewhere ? elsewhere.close(resolve) : resolve(undefined)));
  if (secure) {
    secure.closeAllConnections();
    await new Promise((resolve) => secure!.close(resolve));
  }
  await lighty?.close();
  await cli?.stop();
  ca?.remove();
});

/** Opens a page; every <img> once loaded, with the protocol each resource came over. */
async function load(url: string, ports: number[]) {
  const page = await browser!.newPage();
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  // The raw answer (ExtraInfo) may come before or after its request's event: matched at the end.
  const urls = new Map<string, string>();
  const rawStatus = new Map<string, number>();
  cdp.on('Network.requestWillBeSent', (e) => urls.set(e.requestId, e.request.url));
  cdp.on('Network.responseReceivedExtraInfo', (e) => rawStatus.set(e.requestId, e.statusCode));
  const statuses = new Map<string, number>();
  const match = () => {
    for (const [id, status] of rawStatus) {
      const requested = urls.get(id);
      if (requested) statuses.set(new URL(requested).pathname, status);
      if (requested) statuses.set(`${new URL(requested).port}${new URL(requested).pathname}`, status);
    }
    return ports.every((p) => IMAGES.every((src) => statuses.has(`${p}${src}`)));
  };
  await page.goto(url, { waitUntil: 'load' });
  // On a busy machine the DevTools events may come in after the load event.
  await eventually(match, 15_000);
  const images = await page.$$eval('img', (imgs) =>
    imgs.map((img) => ({
      src: new URL(img.src).pathname,
      port: new URL(img.src).port,
      naturalWidth: img.naturalWidth,
    })),
  );
  const protocols = await page.evaluate(() =>
    performance
      .getEntries()
      .filter((e): e is PerformanceResourceTiming => 'nextHopProtocol' in e)
      .map((e) => [new URL(e.name).pathname, e.nextHopProtocol] as const),
  );
  return { page, images, statuses, protocols: new Map(protocols) };
}

for (const [what, portOf] of [
  ['koa-lighty -f with a $SERVER["socket"] TLS block', () => cliPort],
  ['the Koa helper createServer', () => port],
] as const)
  test(`Chromium loads the demo gallery over HTTPS and h2: ${what}`, async (t) => {
    await galleryOverH2(t, portOf());
  });

async function galleryOverH2(t: import('ava').ExecutionContext, port: number) {
  const { page, images, statuses, protocols } = await load(`https://localhost:${port}/`, [port]);
  t.teardown(() => page.close());
  t.is(await page.title(), 'koa-lighty demo');
  t.is(protocols.get('/'), 'h2');
  t.deepEqual(
    images.map((i) => i.src),
    IMAGES,
  );
  for (const image of images) {
    t.true(image.naturalWidth > 0, `${image.src} naturalWidth ${image.naturalWidth}`);
    t.is(statuses.get(image.src), 200, image.src);
    t.is(protocols.get(image.src), 'h2', image.src);
  }
}

test('over h2 the hotlink rule holds: the images in another origin’s page are refused (403)', async (t) => {
  const { page, images, statuses } = await load(`http://127.0.0.1:${elsewherePort}/`, [port, cliPort]);
  t.teardown(() => page.close());
  t.is(images.length, 2 * IMAGES.length);
  for (const image of images) {
    t.is(image.naturalWidth, 0, `${image.port}${image.src} must not render`);
    t.is(statuses.get(`${image.port}${image.src}`), 403, `${image.port}${image.src}`);
  }
});
