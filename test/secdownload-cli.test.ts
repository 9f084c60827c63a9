import test from 'ava';
import { secdownloadUrlCommand } from '../src/server/secdownload-cli.js';
import { rawRequest } from './helpers/http.js';
import { areaFile, atT, SECRET, serveSecdownload, T, T_SECONDS } from './secdownload-app.js';

/** Runs the command with captured output and the test clock. */
async function command(argv: string[], env: NodeJS.ProcessEnv = {}) {
  let stdout = '';
  let stderr = '';
  const code = await secdownloadUrlCommand(argv, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    env,
    now: atT,
  });
  return { code, stdout, stderr };
}

test('prints the spec vectors', async (t) => {
  const base = ['--secret', SECRET, '--uri-prefix', '/dl/', '--timestamp', String(T_SECONDS)];
  t.deepEqual(await command([...base, '/a.txt']), {
    code: 0,
    stdout: `/dl/40c91589f5c046ccac1c3c532d299071/${T}/a.txt\n`,
    stderr: '',
  });
  t.is(
    (await command([...base, '--algorithm', 'hmac-sha1', '/a.txt'])).stdout,
    `/dl/pO-yZiSKuX3p4unDfUDCzbIoGl4/${T}/a.txt\n`,
  );
  t.is(
    (await command([...base, '--algorithm', 'hmac-sha256', '--query', 'foo=bar', '/a.txt'])).stdout,
    `/dl/UCtNvlq-JHYmwnajfhHLD8LRaBM8lfGBhslrS8P-V6w/${T}/a.txt?foo=bar\n`,
  );
  t.is(
    (await command([...base, '--algorithm', 'hmac-sha256', '--path-segments', '1', '/dir/deep.txt'])).stdout,
    `/dl/j4-MqED6XBNRg08giNM8JdKxpPfbgaQ1pnqXP6bMRhA/${T}/dir/deep.txt\n`,
  );
  t.is(
    (await command([...base.slice(0, 4), '--timestamp', '0x6b0cf5d4', '/a.txt'])).stdout,
    `/dl/40c91589f5c046ccac1c3c532d299071/${T}/a.txt\n`,
  );
});

test('round trip: the printed link opens the file through the middleware', async (t) => {
  const served = await serveSecdownload({ algorithm: 'hmac-sha256', uriPrefix: '/files/' });
  t.teardown(() => served.close());
  // The secret from the environment, the clock of the test.
  const { code, stdout } = await command(
    ['--uri-prefix', '/files/', '--algorithm', 'hmac-sha256', '/my file ü.txt'],
    { SECDOWNLOAD_SECRET: SECRET },
  );
  t.is(code, 0);
  const res = await rawRequest(served.port, stdout.trim());
  t.is(res.status, 200);
  t.deepEqual(res.body, areaFile('my file ü.txt'));
});

test('--granularity rounds the timestamp down, and the link still opens', async (t) => {
  const served = await serveSecdownload({ timeout: 600 });
  t.teardown(() => served.close());
  const { stdout } = await command([
    '--secret',
    SECRET,
    '--uri-prefix',
    '/dl/',
    '--granularity',
    '300',
    '/a.txt',
  ]);
  const rounded = T_SECONDS - (T_SECONDS % 300);
  t.not(rounded, T_SECONDS);
  t.true(stdout.includes(`/${rounded.toString(16)}/a.txt`));
  t.is((await rawRequest(served.port, stdout.trim())).status, 200);
});

test('errors go to stderr with a non-zero exit code', async (t) => {
  const cases: Array<[string[], RegExp, number]> = [
    [['--uri-prefix', '/dl/', '/a.txt'], /missing --secret/, 2],
    [['--secret', 's', '/a.txt'], /missing --uri-prefix/, 2],
    [['--secret', 's', '--uri-prefix', '/dl/'], /exactly one \/rel\/path/, 2],
    [['--secret', 's', '--uri-prefix', '/dl/', '/a', '/b'], /exactly one \/rel\/path/, 2],
    [
      ['--secret', 's', '--uri-prefix', '/dl/', '--algorithm', 'sha1', '/a'],
      /--algorithm must be one of md5/,
      2,
    ],
    [['--secret', 's', '--uri-prefix', '/dl/', '--timestamp', 'soon', '/a'], /--timestamp must be/, 2],
    [['--secret', 's', '--uri-prefix', '/dl/', '--granularity=-5', '/a'], /--granularity must be/, 2],
    [['--secret', 's', '--uri-prefix', '/dl/', '--path-segments', '1.5', '/a'], /--path-segments must be/, 2],
    [['--secret', 's', '--uri-prefix', '/dl/', '--bogus', '/a'], /Unknown option '--bogus'/, 2],
    [['--secret', 's', '--uri-prefix', '/dl/', 'a.txt'], /path must start with \//, 1],
    [
      ['--secret', 's', '--uri-prefix', '/dl/', '--granularity', '0', '/a'],
      /granularity must be a positive/,
      1,
    ],
  ];
  for (const [argv, message, exitCode] of cases) {
    const { code, stdout, stderr } = await command(argv);
    t.is(code, exitCode, argv.join(' '));
    t.is(stdout, '');
    t.regex(stderr, message);
  }
});

test('--help prints the usage', async (t) => {
  const { code, stdout } = await command(['--help']);
  t.is(code, 0);
  t.regex(stdout, /usage: koa-lighty secdownload-url --secret S --uri-prefix \/dl\//);
});
