import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import type { Browser } from 'playwright-core';
import { launchChromium } from './helpers/chromium.js';
import { type RunningKoaLighty, startKoaLighty } from './helpers/koa-lighty.js';

const IMAGES = ['/gallery/sunset.png', '/gallery/sea.png', '/gallery/forest.png'];

let demo: RunningKoaLighty | undefined;
let browser: Browser | undefined;
let elsewhere: Server | undefined;
let elsewherePort = 0;

test.before(async () => {
  demo = await startKoaLighty();
  browser = await launchChromium();
  // Another site that embeds the demo's images (a hotlinker).
  elsewhere = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(
      `<!DOCTYPE html><html><head><title>hotlinker</title></head><body><h1>Stolen pictures</h1>\n${IMAGES.map(
        (src) => `<img src="http://127.0.0.1:${demo!.port}${src}" alt="${src}">`,
      ).join('\n')}\n</body></html>`,
    );
  });
  await new Promise<void>((resolve) => elsewhere!.listen(0, '127.0.0.1', resolve));
  elsewherePort = (elsewhere.address() as AddressInfo).port;
});

test.after.always(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => (elsewhere ? elsewhere.close(() => resolve()) : resolve()));
  await demo?.stop();
});

/**
 * Opens a page and returns every <img> with its naturalWidth once the load event has fired,
 * plus what the server answered for each image path. Chromium blocks a cross-origin 403
 * text/html answer to an <img> (ERR_BLOCKED_BY_ORB) before page.on('response') sees it, so the
 * status comes from the DevTools protocol's raw response (Network.responseReceivedExtraInfo);
 * page.on('response') is kept for the answers the page did get.
 */
async function imagesOf(url: string) {
  const page = await browser!.newPage();
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  const urls = new Map<string, string>();
  const rawStatus = new Map<string, number>();
  cdp.on('Network.requestWillBeSent', (e) => urls.set(e.requestId, e.request.url));
  cdp.on('Network.responseReceivedExtraInfo', (e) => rawStatus.set(e.requestId, e.statusCode));
  const pageStatus = new Map<string, number>();
  const referers = new Map<string, string | undefined>();
  const failures = new Map<string, string | undefined>();
  page.on('request', (request) =>
    referers.set(new URL(request.url()).pathname, request.headers()['referer']),
  );
  page.on('response', (response) => pageStatus.set(new URL(response.url()).pathname, response.status()));
  page.on('requestfailed', (request) =>
    failures.set(new URL(request.url()).pathname, request.failure()?.errorText),
  );
  await page.goto(url, { waitUntil: 'load' });
  const images = await page.$$eval('img', (imgs) =>
    imgs.map((img) => ({
      src: new URL(img.src).pathname,
      complete: img.complete,
      naturalWidth: img.naturalWidth,
    })),
  );
  const serverStatus = new Map<string, number>();
  for (const [id, status] of rawStatus) {
    const requested = urls.get(id);
    if (requested) serverStatus.set(new URL(requested).pathname, status);
  }
  return { page, images, pageStatus, serverStatus, referers, failures };
}

test('the demo home page shows its gallery: every image loads', async (t) => {
  const { page, images, pageStatus, serverStatus } = await imagesOf(`${demo!.url}/`);
  t.teardown(() => page.close());
  t.is(await page.title(), 'koa-lighty demo');
  t.deepEqual(
    images.map((i) => i.src),
    IMAGES,
  );
  for (const image of images) {
    t.true(image.complete, image.src);
    t.true(image.naturalWidth > 0, `${image.src} naturalWidth ${image.naturalWidth}`);
    t.is(pageStatus.get(image.src), 200, image.src);
    t.is(serverStatus.get(image.src), 200, image.src);
  }
  await page.screenshot({ path: '/tmp/koa-lighty-browser-demo.png', fullPage: true });
});

test('the same images embedded in a page of another origin are refused (403, nothing shown)', async (t) => {
  const { page, images, serverStatus, referers, failures } = await imagesOf(
    `http://127.0.0.1:${elsewherePort}/`,
  );
  t.teardown(() => page.close());
  t.is(images.length, IMAGES.length);
  for (const image of images) {
    t.is(image.naturalWidth, 0, `${image.src} must not render`);
    t.is(
      referers.get(image.src),
      `http://127.0.0.1:${elsewherePort}/`,
      `${image.src}: the Referer chromium sent`,
    );
    t.is(
      serverStatus.get(image.src),
      403,
      `${image.src}: the server's answer (failure seen by the page: ${failures.get(image.src)})`,
    );
  }
  await page.screenshot({ path: '/tmp/koa-lighty-browser-hotlink.png', fullPage: true });
});
