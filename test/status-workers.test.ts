/**
 * With --workers each process counts for itself, and says so: the page names the worker that
 * answered ("worker i of N"), `?auto` has a koa-lighty.worker line and the metrics a worker
 * label. Requests on fresh connections reach both workers sooner or later.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { httpGet } from './helpers/http.js';
import { startKoaLighty } from './helpers/koa-lighty.js';

test('--workers 2: each answer names its worker; both workers answer', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'koa-lighty-status-w-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  writeFileSync(join(root, 'a.txt'), 'a\n');
  const server = await startKoaLighty({
    conf: `server.modules = ( "mod_status" )
server.document-root = "${root}"
server.port = PORT
server.bind = "127.0.0.1"
status.status-url = "/server-status"
status.metrics-url = "/metrics"
`,
    args: ['--workers', '2'],
  });
  t.teardown(() => server.stop());
  const seen = new Set<string>();
  const deadline = Date.now() + 60_000;
  while (seen.size < 2 && Date.now() < deadline) {
    const auto = (await httpGet(server.port, '/server-status?auto')).body.toString();
    const worker = /^koa-lighty\.worker: ([12])\/2$/m.exec(auto);
    t.truthy(worker, auto);
    seen.add(worker![1]!);
  }
  t.deepEqual([...seen].sort(), ['1', '2']);
  t.regex(
    (await httpGet(server.port, '/server-status')).body.toString(),
    /<p id="kl-worker">worker [12] of 2: /,
  );
  t.regex(
    (await httpGet(server.port, '/metrics')).body.toString(),
    /^koa_lighty_worker_info\{worker="[12]",workers="2"\} 1$/m,
  );
});
