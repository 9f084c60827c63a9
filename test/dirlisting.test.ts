/**
 * dirListing() as a Koa user has it: alone, in front of staticFiles(), its option checks,
 * symlinks and the cache's failure modes; and the page's sorting script in a real browser
 * (Debian's chromium, headless).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import Koa from 'koa';
import { memoryLogger } from '../src/log.js';
import { type DirListingOptions, dirListing } from '../src/middleware/dir-listing.js';
import { lighttpdErrors } from '../src/middleware/errors.js';
import { staticFiles } from '../src/middleware/static.js';
import { OptionError } from '../src/option-error.js';
import { launchChromium } from './helpers/chromium.js';
import { rawRequest, serve } from './helpers/http.js';

const root = mkdtempSync(join(tmpdir(), 'koa-lighty-dirlisting-koa-'));
test.after.always(() => rmSync(root, { recursive: true, force: true }));

const www = join(root, 'www');
mkdirSync(join(www, 'docs'), { recursive: true });
mkdirSync(join(www, 'withindex'));
writeFileSync(join(www, 'withindex', 'index.html'), '<p>index</p>\n');
writeFileSync(join(www, 'notes.txt'), 'some notes\n');
writeFileSync(join(www, 'big.bin'), Buffer.alloc(5000));
writeFileSync(join(www, 'mid.bin'), Buffer.alloc(2000));
writeFileSync(join(root, 'outside-readme.txt'), 'from outside\n');
symlinkSync(join(root, 'outside-readme.txt'), join(www, 'README.txt'));
const day = Date.UTC(2024, 0, 10) / 1000;
utimesSync(join(www, 'notes.txt'), day, day);
utimesSync(join(www, 'big.bin'), day + 86_400, day + 86_400);
utimesSync(join(www, 'mid.bin'), day - 86_400, day - 86_400);

function app(...stages: Koa.Middleware[]): Koa {
  const koa = new Koa();
  koa.use(lighttpdErrors({ log: memoryLogger() }));
  for (const stage of stages) koa.use(stage);
  return koa;
}

async function get(koa: Koa, path: string, method = 'GET') {
  const served = await serve(koa);
  try {
    return await rawRequest(served.port, path, {}, method);
  } finally {
    await served.close();
  }
}

test('alone, it lists directories and leaves everything else to the next middleware', async (t) => {
  const koa = app(dirListing({ documentRoot: www, footer: 'my site' }));
  const listing = await get(koa, '/');
  t.is(listing.status, 200);
  t.is(listing.headers['content-type'], 'text/html');
  const body = listing.body.toString();
  t.true(body.includes('<tr><td class="n"><a href="notes.txt">notes.txt</a></td>'));
  t.true(body.includes('<td class="t">text/plain;charset=utf-8</td>'), 'DEFAULT_MIME_ASSIGN');
  t.true(body.includes('<div class="foot">my site</div>'));
  t.is((await get(koa, '/notes.txt')).status, 404, 'a file is not its business');
  t.is((await get(koa, '/docs')).status, 404, 'nor the redirect of a directory without its slash');
  t.is((await get(koa, '/docs/', 'DELETE')).status, 404, 'nor other methods');
});

test('in front of staticFiles(): files, index files, 301 and the listing share one file step', async (t) => {
  const options = { documentRoot: www, indexFiles: ['index.html'] };
  const koa = app(
    dirListing({ ...options, log: memoryLogger() }),
    staticFiles({ ...options, log: memoryLogger() }),
  );
  t.is((await get(koa, '/notes.txt')).body.toString(), 'some notes\n');
  t.is((await get(koa, '/withindex/')).body.toString(), '<p>index</p>\n');
  const redirect = await get(koa, '/docs');
  t.is(redirect.status, 301);
  t.is(redirect.headers['location'], '/docs/');
  const docs = await get(koa, '/docs/');
  t.is(docs.status, 200);
  t.true(docs.body.toString().includes('<h2>Index of /docs/</h2>'));
  t.is((await get(koa, '/docs/', 'POST')).status, 403, 'POST is not listed: staticFiles answers 403');
  const head = await get(koa, '/docs/', 'HEAD');
  t.is(head.headers['content-length'], String(docs.body.length));
  t.is(head.body.length, 0);
});

test('staticFiles() alone still answers 403 for a directory without an index', async (t) => {
  const koa = app(staticFiles({ documentRoot: www, log: memoryLogger() }));
  t.is((await get(koa, '/docs/')).status, 403);
});

test('a readme reached through a symlink shows only while symlinks are followed', async (t) => {
  const list = (followSymlink: boolean) =>
    get(app(dirListing({ documentRoot: www, showReadme: 'README.txt', followSymlink })), '/');
  t.true((await list(true)).body.toString().includes('<pre class="readme">from outside&#x0A;</pre>'));
  t.false((await list(false)).body.toString().includes('<pre class="readme">'));
});

test('options that cannot work are refused when the stage is built', (t) => {
  const build = (options: Partial<DirListingOptions>) => () =>
    dirListing({ documentRoot: www, log: memoryLogger(), ...options });
  const exclude = t.throws(build({ exclude: ['(unclosed'] }), { instanceOf: OptionError });
  t.is(exclude?.code, 'ERR_DIRLISTING_EXCLUDE');
  t.is(exclude?.option, 'exclude');
  const age = t.throws(build({ cache: { path: root, maxAge: -1 } }), { instanceOf: OptionError });
  t.is(age?.code, 'ERR_DIRLISTING_CACHE');
  t.throws(build({ cache: { path: join(www, 'notes.txt') } }), { message: /is not a dir/ });
  t.notThrows(build({ cache: { path: '', maxAge: 0 } }), 'max-age 0 turns the cache off');
  t.notThrows(build({ exclude: [/^n/, '\\.bin$'] }));
});

test('a cache directory that does not exist: a warning, and listings without caching', async (t) => {
  const log = memoryLogger();
  const missing = join(root, 'no-such-cache');
  const koa = app(dirListing({ documentRoot: www, cache: { path: missing }, log }));
  t.deepEqual(log.lines, [
    `(dirlisting) warning: dir-listing.cache "path" => "${missing}" does not exist: nothing is cached until it does`,
  ]);
  const listing = await get(koa, '/');
  t.is(listing.status, 200);
  t.false('cache-control' in listing.headers);
  t.false('etag' in listing.headers);
  t.false(existsSync(missing), 'the cache path itself is never made');
});

test('the sorting script in a browser: by name, then by a column, both ways, and from the query', async (t) => {
  const served = await serve(app(dirListing({ documentRoot: www })));
  const browser = await launchChromium();
  t.teardown(async () => {
    await browser.close();
    await served.close();
  });
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  const names = () => page.$$eval('div.list tbody tr td.n', (cells) => cells.map((cell) => cell.textContent));
  await page.goto(`${served.url}/`);
  t.deepEqual(await names(), ['docs/', 'withindex/', 'big.bin', 'mid.bin', 'notes.txt', 'README.txt']);
  await page.click('th.s a.sortheader');
  t.deepEqual((await names()).slice(-2), ['mid.bin', 'big.bin'], 'by size, growing');
  await page.click('th.s a.sortheader');
  t.deepEqual((await names()).slice(0, 2), ['big.bin', 'mid.bin'], 'by size, shrinking');
  await page.goto(`${served.url}/?C=M&O=D`);
  const byDate = (await names()).filter((name) => name.endsWith('.bin') || name === 'notes.txt');
  t.deepEqual(byDate, ['big.bin', 'notes.txt', 'mid.bin'], 'newest first');
  await page.goto(`${served.url}/docs/?C=N&O=D`);
  t.deepEqual(await names(), ['../'], 'the ../ row stays first');
  t.deepEqual(errors, []);
});
