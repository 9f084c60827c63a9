/**
 * The status page, its JSON and the Prometheus metrics while real things happen: requests to
 * a PHP script that holds its php-cgi worker until the test releases it (a file appears) fill
 * both workers and queue the rest, and the busy and queued counts show it, then go back to
 * zero; memcached (the trigger store) stopped shows the store down, started again up, with the
 * outage in the history; a bad and an expired secdownload link move the 403 and 410 counts.
 * Then Debian's Chromium opens the page, under a Content-Security-Policy of `script-src
 * 'self'`, and sees it redraw itself without a reload.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import { memoryLogger } from '../src/log.js';
import { secdownloadUrl } from '../src/secdownload/url.js';
import { createApp, type LightyApp, loadConfig } from '../src/server/app.js';
import { LatencyHistogram, SlidingRate } from '../src/status/histogram.js';
import { pageScript } from '../src/status/page-script.js';
import type { StatusSnapshot } from '../src/status/snapshot.js';
import { launchChromium } from './helpers/chromium.js';
import { type Served, serve } from './helpers/http.js';
import { type RunningMemcached, startMemcached } from './helpers/memcached.js';

const SECRET = 'status-secret';
const root = mkdtempSync(join(tmpdir(), 'koa-lighty-status-'));
const www = join(root, 'www');
const files = join(root, 'files');
mkdirSync(www);
mkdirSync(files);
writeFileSync(join(files, 'a.txt'), 'protected\n');
writeFileSync(join(www, 'hello.php'), '<?php echo "hello";');
// Holds its worker until the file named in ?f exists: the test decides when it ends.
writeFileSync(
  join(www, 'hold.php'),
  `<?php $f = ${JSON.stringify(root)} . '/' . basename($_GET['f']);
while (!file_exists($f)) usleep(5000);
echo "released";`,
);

const conf = (memcached: string) => `
server.modules = ( "mod_access", "mod_setenv", "mod_trigger_b4_dl", "mod_status", "mod_fastcgi", "mod_secdownload" )
server.document-root = "${www}"
$HTTP["remoteip"] =~ "^(127\\.0\\.0\\.1|::1)$" {
  status.status-url = "/server-status"
  status.metrics-url = "/metrics"
}
$HTTP["url"] == "/server-status" {
  setenv.add-response-header = ( "Content-Security-Policy" => "default-src 'self'" )
}
fastcgi.server = ( ".php" => ( "php" => (
  "bin-path" => "/usr/bin/php-cgi",
  "socket" => "${root}/php.sock",
  "max-procs" => 1,
  "bin-environment" => ( "PHP_FCGI_CHILDREN" => "2" ),
)))
secdownload.secret = "${SECRET}"
secdownload.document-root = "${files}"
secdownload.uri-prefix = "/dl/"
secdownload.timeout = 60
secdownload.algorithm = "md5"
trigger-before-download.memcache-hosts = ( "${memcached}" )
trigger-before-download.trigger-url = "^/trigger"
trigger-before-download.download-url = "^/download/"
trigger-before-download.deny-url = "/denied"
`;

let memcached: RunningMemcached;
let lighty: LightyApp;
let served: Served;

test.before(async () => {
  memcached = await startMemcached();
  const file = join(root, 'lighttpd.conf');
  writeFileSync(file, conf(memcached.server));
  lighty = createApp(loadConfig(file), { log: memoryLogger() });
  await lighty.ready();
  served = await serve(lighty.app);
});

test.after.always(async () => {
  await served?.close();
  await lighty?.close();
  await memcached?.stop();
  rmSync(root, { recursive: true, force: true });
});

/** A GET on a connection of its own (no agent): held requests must not share one. */
function get(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: served.port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function status(): Promise<StatusSnapshot> {
  const answer = await get('/server-status?json');
  return JSON.parse(answer.body).KoaLighty;
}

/** Polls an async condition for up to `ms`: the failure bound, not a wait before asserting. */
async function until(condition: () => Promise<boolean>, ms = 30_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

const php = (s: StatusSnapshot) => s.fastcgi.find((k) => k.key === '.php')!.hosts[0]!.processes[0]!;
const metric = (text: string, name: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes('key=".php"'));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
};

test.serial('busy and queued move under load on php-cgi, in the JSON, the metrics and ?auto', async (t) => {
  const before = php(await status());
  t.is(before.maxConns, 2, 'FCGI_MAX_CONNS as php-cgi answers it: PHP_FCGI_CHILDREN');
  t.is(before.busy, 0);
  t.is(before.queued, 0);
  t.true(before.spawned!.running);

  const held = [1, 2, 3, 4].map(() => get('/hold.php?f=release-load'));
  t.true(
    await until(async () => {
      const p = php(await status());
      return p.busy === 2 && p.queued === 2;
    }),
    'two requests hold both workers, two wait',
  );
  const metrics = (await get('/metrics')).body;
  t.is(metric(metrics, 'koa_lighty_fastcgi_busy_connections'), 2);
  t.is(metric(metrics, 'koa_lighty_fastcgi_queued_requests'), 2);
  t.is(metric(metrics, 'koa_lighty_fastcgi_max_conns'), 2);
  const auto = (await get('/server-status?auto')).body;
  t.regex(auto, /^koa-lighty\.fastcgi\.\.php\.php\.0\.busy: 2$/m);
  t.regex(auto, /^koa-lighty\.fastcgi\.\.php\.php\.0\.queued: 2$/m);
  // lighttpd's BusyServers: open connections, the four held ones and this one.
  t.true(Number(/^BusyServers: (\d+)$/m.exec(auto)![1]) >= 5);

  writeFileSync(join(root, 'release-load'), '');
  const answers = await Promise.all(held);
  t.deepEqual(
    answers.map((a) => [a.status, a.body]),
    [1, 2, 3, 4].map(() => [200, 'released']),
  );
  t.true(
    await until(async () => {
      const p = php(await status());
      return p.busy === 0 && p.queued === 0;
    }),
  );
  const after = await status();
  t.true(after.requests.total >= 4);
  t.true(after.latencyMs.count >= 4);
  t.not(after.latencyMs.p50, null);
  const again = (await get('/metrics')).body;
  t.is(metric(again, 'koa_lighty_fastcgi_busy_connections'), 0);
  t.regex(again, /^# TYPE koa_lighty_request_duration_seconds histogram$/m);
  t.regex(again, /^koa_lighty_request_duration_seconds_bucket\{le="\+Inf"\} \d+$/m);
});

test.serial(
  'the metrics are Prometheus text format 0.0.4: HELP and TYPE before each family, one sample a line',
  async (t) => {
    const answer = await new Promise<{ type: string; body: string }>((resolve, reject) => {
      request({ host: '127.0.0.1', port: served.port, path: '/metrics', agent: false }, (res) => {
        let body = '';
        res.on('data', (chunk) => {
          body += chunk;
        });
        res.on('end', () => resolve({ type: String(res.headers['content-type']), body }));
      })
        .on('error', reject)
        .end();
    });
    t.is(answer.type, 'text/plain; version=0.0.4; charset=utf-8');
    t.true(answer.body.endsWith('\n'));
    const typed = new Map<string, string>();
    const name = '[a-zA-Z_:][a-zA-Z0-9_:]*';
    const label = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\.)*"';
    const sampleLine = new RegExp(`^(${name})(\\{${label}(,${label})*\\})? (-?[0-9.e+-]+|\\+Inf|NaN)$`);
    for (const line of answer.body.trimEnd().split('\n')) {
      const comment = new RegExp(`^# (HELP|TYPE) (${name}) (.+)$`).exec(line);
      if (comment) {
        if (comment[1] === 'TYPE') typed.set(comment[2]!, comment[3]!);
        continue;
      }
      const sample = sampleLine.exec(line);
      t.truthy(sample, line);
      const family = sample![1]!.replace(/_(bucket|sum|count)$/, '');
      t.true(typed.has(sample![1]!) || typed.get(family) === 'histogram', `${line}: no TYPE before it`);
    }
    t.is(typed.get('koa_lighty_request_duration_seconds'), 'histogram');
    t.is(typed.get('koa_lighty_requests_total'), 'counter');
  },
);

test('the page script parses, with and without the sort', (t) => {
  for (const sort of [true, false]) t.notThrows(() => new Function(pageScript(sort)));
});

test('the latency histogram reads percentiles as bucket bounds; the rate is the mean of five whole seconds', (t) => {
  const histogram = new LatencyHistogram();
  t.is(histogram.percentile(0.5), undefined);
  for (const ms of [0.3, 0.9, 3, 4, 40, 20_000]) histogram.observe(ms);
  t.is(histogram.percentile(0.5), 5);
  t.is(histogram.percentile(0.8), 50);
  t.is(histogram.percentile(0.99), Number.POSITIVE_INFINITY);
  t.is(histogram.total, 6);
  const rate = new SlidingRate();
  for (let second = 100; second < 106; second++) rate.count(second * 1000 + 500, second === 105 ? 50 : 10);
  // At 105.9 s: seconds 100 to 104 are whole, 105 is still counting.
  t.is(rate.perSecond(105_900), 10);
  t.is(rate.perSecond(111_000), 0);
});

test.serial(
  'memcached stopped: the trigger store shows down; started again: up, the outage in its history',
  async (t) => {
    t.is((await get('/trigger')).status, 404); // a trigger page (no such file): the store answered
    const upFirst = (await status()).triggerStores[0]!;
    t.is(upFirst.name, 'memcached');
    t.true(upFirst.up);
    t.deepEqual(upFirst.outages, []);

    await memcached.stop();
    t.is((await get('/download/x.mpg')).status, 307, 'denied while the store is down');
    const down = (await status()).triggerStores[0]!;
    t.false(down.up);
    t.is(down.outages.length, 1);
    t.is(down.outages[0]!.to, null);
    t.regex((await get('/metrics')).body, /^koa_lighty_trigger_store_up\{store="memcached",index="0"\} 0$/m);
    t.regex((await get('/server-status?auto')).body, /^koa-lighty\.trigger-store\.0\.up: 0$/m);

    await memcached.start();
    // memjs reconnects on the next call: visits until one gets through.
    t.true(
      await until(async () => {
        await get('/trigger');
        return (await status()).triggerStores[0]!.up;
      }),
    );
    const up = (await status()).triggerStores[0]!;
    t.is(up.outages.length, 1);
    t.not(up.outages[0]!.to, null);
    t.true(up.outages[0]!.failures >= 1);
    t.regex((await get('/metrics')).body, /^koa_lighty_trigger_store_up\{store="memcached",index="0"\} 1$/m);
  },
);

test.serial('secdownload: a bad link moves the 403 count, an expired one the 410 count', async (t) => {
  const link = (timestamp?: number) =>
    secdownloadUrl({ secret: SECRET, uriPrefix: '/dl/', algorithm: 'md5', path: '/a.txt', timestamp });
  const before = (await status()).secdownload!;
  t.deepEqual(before, { forbidden: 0, gone: 0, valid: 0 });
  const good = link();
  t.is((await get(good)).status, 200);
  const bad = good.replace(/\/dl\/(.)/, (_m, c: string) => `/dl/${c === '0' ? '1' : '0'}`);
  t.is((await get(bad)).status, 403);
  t.is((await get(link(Math.floor(Date.now() / 1000) - 3600))).status, 410);
  t.deepEqual((await status()).secdownload, { forbidden: 1, gone: 1, valid: 1 });
  const metrics = (await get('/metrics')).body;
  t.regex(metrics, /^koa_lighty_secdownload_links_total\{result="403"\} 1$/m);
  t.regex(metrics, /^koa_lighty_secdownload_links_total\{result="410"\} 1$/m);
});

test.serial(
  'Chromium: the page redraws itself without a reload, under a CSP of default-src self',
  async (t) => {
    const browser = await launchChromium([
      // A headless page may count as hidden, whose timers Chromium slows down: the page
      // script's timer must run as in a tab someone looks at.
      '--disable-background-timer-throttling',
      '--disable-renderer-backgrounding',
      '--disable-backgrounding-occluded-windows',
    ]);
    t.teardown(() => browser.close());
    const page = await browser.newPage();
    const refused: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error' && message.text().includes('Content Security Policy'))
        refused.push(message.text());
    });
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    let navigations = 0;
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) navigations++;
    });
    const response = await page.goto(`${served.url}/server-status`);
    t.is(response?.status(), 200);
    t.is(response?.headers()['content-security-policy'], "default-src 'self'");
    const first = await page.textContent('#kl-requests');
    t.truthy(first);
    const held = get('/hold.php?f=release-browser');
    t.teardown(() => {
      writeFileSync(join(root, 'release-browser'), '');
      return held.then(
        () => {},
        () => {},
      );
    });
    // The script's next fetch of ?json shows the held request as busy, in place.
    await page
      .waitForFunction(
        () => {
          const cells = [...document.querySelectorAll('#kl-fastcgi tr')][1]?.querySelectorAll('td');
          return cells !== undefined && cells[4]?.textContent === '1';
        },
        undefined,
        { timeout: 30_000 },
      )
      .catch((error) => {
        throw new Error(`${error.message}; page errors: ${pageErrors.join('; ') || 'none'}`);
      });
    t.not(await page.textContent('#kl-requests'), first, 'the request count was redrawn');
    t.regex((await page.textContent('#kl-updated')) ?? '', /^as of \d{4}-/);
    t.is(navigations, 1, 'one navigation: the page was never reloaded');
    t.deepEqual(refused, [], 'no script was refused by the CSP');
    t.deepEqual(pageErrors, [], 'the page script runs without an error');
    await page.screenshot({ path: '/tmp/koa-lighty-browser-status.png', fullPage: true });
    writeFileSync(join(root, 'release-browser'), '');
    t.is((await held).status, 200);
    const style = await page.evaluate(() => getComputedStyle(document.querySelector('th.status')!).color);
    t.is(style, 'rgb(255, 255, 255)', 'the stylesheet applies under the CSP');
  },
);
