/**
 * `--workers N`: every worker has its own pool in front of the same php-cgi. Together they
 * must not open more connections than php-cgi has children, or the extra ones are accepted
 * and never served (design.md section 5).
 */
import test from 'ava';
import { BackendPool } from '../src/fastcgi/pool.js';
import { shareOf } from '../src/fastcgi/pool-options.js';
import { phpParams, startPhpCgi } from './helpers/php-cgi.js';

test('shareOf splits a backend evenly, the remainder to the first workers, at least one each', (t) => {
  t.deepEqual(
    [0, 1].map((index) => shareOf(4, { index, count: 2 })),
    [2, 2],
  );
  t.deepEqual(
    [0, 1].map((index) => shareOf(5, { index, count: 2 })),
    [3, 2],
  );
  t.deepEqual(
    [0, 1, 2].map((index) => shareOf(2, { index, count: 3 })),
    [1, 1, 1],
  );
  t.is(shareOf(4, undefined), 4);
  t.is(shareOf(4, { index: 0, count: 1 }), 4);
});

test('two worker pools on one php-cgi with 4 children open 2 connections each and serve every request', async (t) => {
  const php = await startPhpCgi({ children: 4 });
  t.teardown(() => php.stop());
  const pools = [0, 1].map((index) => new BackendPool({ address: php.address, share: { index, count: 2 } }));
  t.teardown(() => Promise.all(pools.map((pool) => pool.destroy())));
  const requests = pools.flatMap((pool) =>
    Array.from({ length: 16 }, async () => {
      const res = await pool.request({ params: phpParams('fcgi-sleep.php', { QUERY_STRING: 'ms=20' }) });
      let text = '';
      for await (const chunk of res.body) text += chunk;
      return text;
    }),
  );
  const answers = await Promise.all(requests);
  t.is(answers.filter((text) => /^slept \d+/.test(text)).length, 32);
  t.deepEqual(
    pools.map((pool) => pool.maxConns),
    [2, 2],
  );
  t.true(pools.every((pool) => pool.connections <= 2));
});
