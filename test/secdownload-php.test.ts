import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { rawRequest } from './helpers/http.js';
import { areaFile, FIXTURES, serveSecdownload } from './secdownload-app.js';

const run = promisify(execFile);
const PHP = join(FIXTURES, '..', 'php');

/**
 * Runs a fixture page as a real CGI request (php-cgi without FastCGI, as a web server's CGI
 * module would) and returns the page without its CGI headers.
 */
async function phpPage(script: string, query: string, env: Record<string, string> = {}): Promise<string> {
  const { stdout } = await run('php-cgi', [], {
    env: {
      PATH: process.env.PATH,
      GATEWAY_INTERFACE: 'CGI/1.1',
      REQUEST_METHOD: 'GET',
      QUERY_STRING: query,
      SCRIPT_FILENAME: join(PHP, script),
      REDIRECT_STATUS: '200',
      ...env,
    },
  });
  const end = stdout.indexOf('\r\n\r\n');
  return end >= 0 ? stdout.slice(end + 4) : stdout;
}

function href(page: string): string {
  const match = /<a href="([^"]+)">/.exec(page);
  if (!match) throw new Error(`no link in ${JSON.stringify(page)}`);
  return match[1]!.replaceAll('&amp;', '&');
}

test('the lighttpd wiki recipe as written: its PHP snippet and its config (prefix mended to /dl/)', async (t) => {
  // secdownload.secret = "verysecret", no algorithm line; the snippet's own values throughout.
  const served = await serveSecdownload({ algorithm: undefined, now: Date.now });
  t.teardown(() => served.close());
  const page = await phpPage('secdownload-link.php', '');
  const target = href(page);
  t.regex(target, /^\/dl\/[0-9a-f]{32}\/[0-9a-f]{8}\/secret-file\.txt$/);
  t.regex(page, /<a href="[^"]+">\/secret-file\.txt<\/a>$/);
  const res = await rawRequest(served.port, target);
  t.is(res.status, 200);
  t.deepEqual(res.body, areaFile('secret-file.txt'));
});

test('the PHP snippet with its own secret, prefix and file: the link opens, expires (410), and tampering is 403', async (t) => {
  const env = { SECDOWNLOAD_SECRET: 'php-chosen secret', SECDOWNLOAD_URI_PREFIX: '/gallery/' };
  const target = href(await phpPage('secdownload-link.php', 'f=/dir/deep.txt', env));
  const options = { secret: env.SECDOWNLOAD_SECRET, uriPrefix: '/gallery/', algorithm: 'md5' as const };
  const fresh = await serveSecdownload({ ...options, now: Date.now });
  const later = await serveSecdownload({ ...options, now: () => Date.now() + 62_000 });
  t.teardown(() => Promise.all([fresh.close(), later.close()]));

  const res = await rawRequest(fresh.port, target);
  t.is(res.status, 200);
  t.deepEqual(res.body, areaFile('dir/deep.txt'));
  t.is((await rawRequest(later.port, target)).status, 410);
  t.is((await rawRequest(fresh.port, target.replace('deep.txt', 'deep.txT'))).status, 403);
  // Upper-case hex, as some PHP code writes it (strtoupper(md5(...))), is accepted.
  t.is(
    (
      await rawRequest(
        fresh.port,
        target.replace(/[0-9a-f]{32}/, (m) => m.toUpperCase()),
      )
    ).status,
    200,
  );
});

for (const algorithm of ['hmac-sha1', 'hmac-sha256', 'md5'] as const) {
  test(`the PHP hmac helper makes ${algorithm} links that open`, async (t) => {
    const env = { SECDOWNLOAD_SECRET: 'helper secret', SECDOWNLOAD_ALGORITHM: algorithm };
    const served = await serveSecdownload({ secret: env.SECDOWNLOAD_SECRET, algorithm, now: Date.now });
    t.teardown(() => served.close());
    for (const [query, file] of [
      ['f=/a.txt', 'a.txt'],
      ['f=/my%20file%20%C3%BC.txt', 'my file ü.txt'],
    ]) {
      const target = href(await phpPage('secdownload-hmac.php', query!, env));
      const res = await rawRequest(served.port, target);
      t.is(res.status, 200, target);
      t.deepEqual(res.body, areaFile(file!));
    }
  });
}
