/**
 * SIGHUP, as logrotate uses it: the access log and the error log are renamed, the server is
 * signalled, and the lines after that go to new files of the configured names while the
 * renamed files keep what was written before. With --workers the primary passes it on.
 */
import { readFileSync, renameSync } from 'node:fs';
import test from 'ava';
import { httpGet } from './helpers/http.js';
import { startKoaLighty } from './helpers/koa-lighty.js';
import { signalSite } from './helpers/signal-site.js';
import { eventually } from './helpers/wait.js';

const LONG = 30_000;

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

for (const workers of [1, 2]) {
  test(`rename both logs, SIGHUP: new lines go to new files, old lines stay in the renamed ones${workers > 1 ? ' (--workers 2)' : ''}`, async (t) => {
    const site = signalSite();
    t.teardown(() => site.remove());
    const server = await startKoaLighty({
      conf: site.conf(),
      args: workers > 1 ? ['--workers', String(workers)] : [],
    });
    t.teardown(() => server.stop());

    t.is((await httpGet(server.port, '/index.html?before')).status, 200);
    t.is((await httpGet(server.port, '/err.php?m=before-rotation')).status, 200);
    t.true(await eventually(() => read(site.accessLog).includes('/err.php?m=before-rotation'), LONG));
    t.true(await eventually(() => read(site.errorLog).includes('php says before-rotation'), LONG));

    renameSync(site.accessLog, `${site.accessLog}.1`);
    renameSync(site.errorLog, `${site.errorLog}.1`);
    process.kill(server.pid, 'SIGHUP');
    // Every process that writes the logs says so in the new error log (primary and workers).
    const reopened = () => read(site.errorLog).match(/SIGHUP: log files reopened/g)?.length ?? 0;
    t.true(await eventually(() => reopened() === (workers > 1 ? workers + 1 : 1), LONG), read(site.errorLog));

    // Enough requests on fresh connections that each worker serves some.
    for (let i = 0; i < 4; i++) {
      t.is((await httpGet(server.port, `/index.html?after-${i}`)).status, 200);
      t.is((await httpGet(server.port, `/err.php?m=after-${i}`)).status, 200);
    }
    t.true(
      await eventually(() => read(site.accessLog).includes('/err.php?m=after-3'), LONG),
      read(site.accessLog),
    );
    t.true(
      await eventually(() => read(site.errorLog).includes('php says after-3'), LONG),
      read(site.errorLog),
    );

    const access = read(site.accessLog);
    const oldAccess = read(`${site.accessLog}.1`);
    const errors = read(site.errorLog);
    const oldErrors = read(`${site.errorLog}.1`);
    for (let i = 0; i < 4; i++) {
      t.true(access.includes(`/index.html?after-${i}`), access);
      t.true(errors.includes(`php says after-${i}`), errors);
    }
    t.false(access.includes('before'), access);
    t.false(errors.includes('before-rotation'), errors);
    t.true(
      oldAccess.includes('/index.html?before') && oldAccess.includes('/err.php?m=before-rotation'),
      oldAccess,
    );
    t.false(oldAccess.includes('after'), oldAccess);
    t.true(oldErrors.includes('php says before-rotation'), oldErrors);
    t.false(oldErrors.includes('after-'), oldErrors);
    // And the server is still there (Node's default for SIGHUP is to exit).
    t.is((await httpGet(server.port, '/pid.php')).status, 200);
  });
}

test('SIGHUP leaves piped logs alone (accesslog.filename and server.errorlog "|program"): the programs keep running and get every line', async (t) => {
  const site = signalSite();
  t.teardown(() => site.remove());
  const piped = `${site.dir}/piped.log`;
  const pipedErrors = `${site.dir}/piped-error.log`;
  const conf = site
    .conf()
    .replace(/accesslog\.filename = .*/, `accesslog.filename = "|cat >> ${piped}"`)
    .replace(/server\.errorlog = .*/, `server.errorlog = "|cat >> ${pipedErrors}"`);
  const server = await startKoaLighty({ conf });
  t.teardown(() => server.stop());
  t.is((await httpGet(server.port, '/err.php?m=one')).status, 200);
  t.true(await eventually(() => read(piped).includes('?m=one'), LONG));
  t.true(await eventually(() => read(pipedErrors).includes('php says one'), LONG), read(pipedErrors));
  process.kill(server.pid, 'SIGHUP');
  t.true(
    await eventually(() => /SIGHUP: log files reopened/.test(read(pipedErrors)), LONG),
    read(pipedErrors),
  );
  t.is((await httpGet(server.port, '/err.php?m=two')).status, 200);
  t.true(await eventually(() => read(piped).includes('?m=two'), LONG), read(piped));
  t.true(await eventually(() => read(pipedErrors).includes('php says two'), LONG), read(pipedErrors));
  t.false(/exited/.test(read(pipedErrors)), read(pipedErrors));
});
