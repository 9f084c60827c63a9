import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import test, { type ExecutionContext } from 'ava';
import Koa from 'koa';
import { memoryLogger } from '../src/log.js';
import { type TriggerOptions, triggerBeforeDownload } from '../src/middleware/trigger.js';
import {
  canonicalAddress,
  clientIdentity,
  ipv6Prefix64,
  TrustedProxies,
} from '../src/middleware/trigger-identity.js';
import { rawExchange, rawRequest } from './helpers/http.js';

const identity = (peer: string, xff: string | undefined, trusted: string[] = [], prefix64 = false) =>
  clientIdentity(peer, xff, { trustedProxies: new TrustedProxies(trusted), ipv6Prefix64: prefix64 });

test('identity: the peer address; X-Forwarded-For from an untrusted peer is ignored', (t) => {
  t.is(identity('192.0.2.10', undefined), '192.0.2.10');
  t.is(identity('192.0.2.10', '10.9.9.9'), '192.0.2.10');
  t.is(
    identity('192.0.2.10', '10.9.9.9', ['10.0.0.0/8']),
    '192.0.2.10',
    'the header’s address is trusted, not the peer',
  );
  t.is(identity('::ffff:192.0.2.10', undefined), '192.0.2.10', 'IPv4-mapped peer of a dual-stack socket');
});

test('identity: behind trusted proxies, the right-most address that is not a proxy', (t) => {
  const proxies = ['127.0.0.1', '10.0.0.0/8', 'fd00::/8'];
  t.is(identity('127.0.0.1', '198.51.100.7', proxies), '198.51.100.7');
  t.is(
    identity('127.0.0.1', '203.0.113.9, 198.51.100.7', proxies),
    '198.51.100.7',
    'left part is the client’s',
  );
  t.is(
    identity('127.0.0.1', '203.0.113.9, 198.51.100.7, 10.1.2.3', proxies),
    '198.51.100.7',
    'a second proxy',
  );
  t.is(
    identity('127.0.0.1', '198.51.100.7,10.1.2.3 , fd00::5', proxies),
    '198.51.100.7',
    'v6 proxy, odd spacing',
  );
  t.is(identity('::ffff:127.0.0.1', '198.51.100.7', proxies), '198.51.100.7', 'mapped proxy address');
  t.is(identity('127.0.0.1', '10.1.2.3', proxies), '10.1.2.3', 'only proxies: the left-most');
  t.is(identity('127.0.0.1', '', proxies), '127.0.0.1', 'an empty header');
  t.is(identity('127.0.0.1', '203.0.113.9, unknown', proxies), '127.0.0.1', 'a non-address stops the walk');
  t.is(identity('127.0.0.1', '198.51.100.7:51234', proxies), '198.51.100.7', 'a port is dropped');
  t.is(identity('127.0.0.1', '[2001:DB8::7]:443', proxies), '2001:db8::7', 'bracketed v6 with port');
  t.is(identity('127.0.0.1', '::ffff:198.51.100.7', proxies), '198.51.100.7');
});

test('identity: IPv6 by /64 on request; IPv4 unchanged', (t) => {
  t.is(identity('2001:db8:1:2:aaaa::1', undefined, [], true), '2001:db8:1:2::/64');
  t.is(identity('2001:db8:1:2:bbbb::9', undefined, [], true), '2001:db8:1:2::/64');
  t.is(identity('2001:db8:1:3::1', undefined, [], true), '2001:db8:1:3::/64');
  t.is(identity('2001:db8:1:2:aaaa::1', undefined, [], false), '2001:db8:1:2:aaaa::1');
  t.is(identity('192.0.2.10', undefined, [], true), '192.0.2.10');
  t.is(ipv6Prefix64('::1'), '::/64');
});

test('canonical addresses: one text per address', (t) => {
  t.is(canonicalAddress('2001:0DB8:0000::0001'), '2001:db8::1');
  t.is(canonicalAddress('::ffff:c000:20a'), '192.0.2.10');
  t.is(canonicalAddress('fe80::1%eth0'), 'fe80::1');
  t.is(canonicalAddress('not-an-ip'), undefined);
});

test('trusted proxies: addresses and CIDRs, IPv4 and IPv6', (t) => {
  const proxies = new TrustedProxies(['10.0.0.0/8', '192.0.2.1', '::1', '2001:db8:aa::/48']);
  t.true(proxies.has('10.255.0.1'));
  t.false(proxies.has('11.0.0.1'));
  t.true(proxies.has('192.0.2.1'));
  t.false(proxies.has('192.0.2.2'));
  t.true(proxies.has('::1'));
  t.true(proxies.has('2001:db8:aa:ffff::1'));
  t.false(proxies.has('2001:db8:ab::1'));
  t.false(proxies.has('garbage'));
  t.false(new TrustedProxies().has('127.0.0.1'));
  t.throws(() => new TrustedProxies(['10.0.0.0/8/1']));
  t.throws(() => new TrustedProxies(['::/129']));
  t.throws(() => new TrustedProxies(['10.0.0.0/x']));
});

async function site(t: ExecutionContext, options: Partial<TriggerOptions>, host = '127.0.0.1') {
  const trigger = triggerBeforeDownload({
    triggerUrl: '^/$',
    downloadUrl: '^/files/',
    denyUrl: '/visit',
    timeout: 60,
    log: memoryLogger(),
    ...options,
  });
  const app = new Koa();
  app.use(trigger);
  app.use((ctx) => {
    ctx.body = 'ok';
  });
  const server = app.listen(0, host);
  await new Promise((resolve) => server.once('listening', resolve));
  t.teardown(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await trigger.store.close();
  });
  return { port: (server.address() as AddressInfo).port, store: trigger.store };
}

test('spoofing: X-Forwarded-For from an untrusted peer does not change who the client is', async (t) => {
  const { port, store } = await site(t, { trustedProxies: ['10.0.0.0/8'] });
  await rawRequest(port, '/', { 'X-Forwarded-For': '10.9.9.9' });
  t.is(await store.get('10.9.9.9'), undefined, 'the header named nobody');
  t.not(await store.get('127.0.0.1'), undefined, 'the visit counted for the peer');
  t.is(
    (await rawRequest(port, '/files/a.zip', { 'X-Forwarded-For': '203.0.113.1' })).status,
    200,
    'still the peer',
  );
});

test('spoofing: behind a trusted proxy the forwarded client is the identity', async (t) => {
  const { port, store } = await site(t, { trustedProxies: ['127.0.0.1'] });
  await rawRequest(port, '/', { 'X-Forwarded-For': '198.51.100.7' });
  t.not(await store.get('198.51.100.7'), undefined);
  t.is(await store.get('127.0.0.1'), undefined);
  t.is((await rawRequest(port, '/files/a.zip', { 'X-Forwarded-For': '198.51.100.7' })).status, 200);
  t.is((await rawRequest(port, '/files/a.zip', { 'X-Forwarded-For': '198.51.100.8' })).status, 307);
  t.is((await rawRequest(port, '/files/a.zip')).status, 307, 'the proxy itself never visited');
  // A client that writes the visitor's address itself; the proxy appends the real one.
  const forged = await rawRequest(port, '/files/a.zip', { 'X-Forwarded-For': '198.51.100.7, 203.0.113.66' });
  t.is(forged.status, 307);
});

test('spoofing: several X-Forwarded-For headers are read as one list', async (t) => {
  const { port, store } = await site(t, { trustedProxies: ['127.0.0.1'] });
  const lines = [
    'GET / HTTP/1.1',
    'Host: 127.0.0.1',
    'Connection: close',
    'X-Forwarded-For: 198.51.100.7',
    'X-Forwarded-For: 203.0.113.66',
  ];
  await rawExchange(port, Buffer.from(`${lines.join('\r\n')}\r\n\r\n`));
  t.not(await store.get('203.0.113.66'), undefined);
  t.is(await store.get('198.51.100.7'), undefined);
});

function getOverIpv6(port: number, path: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '::1', port, path, headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.end();
  });
}

test('IPv6 clients over ::1: keyed by address, or by /64 when asked', async (t) => {
  const byAddress = await site(t, { trustedProxies: ['::1'] }, '::1');
  await getOverIpv6(byAddress.port, '/', { 'X-Forwarded-For': '2001:db8:1:2::10' });
  t.is(await getOverIpv6(byAddress.port, '/files/a.zip', { 'X-Forwarded-For': '2001:db8:1:2::10' }), 200);
  t.is(await getOverIpv6(byAddress.port, '/files/a.zip', { 'X-Forwarded-For': '2001:db8:1:2::99' }), 307);

  const byPrefix = await site(t, { trustedProxies: ['::1'], ipv6Prefix64: true }, '::1');
  await getOverIpv6(byPrefix.port, '/', { 'X-Forwarded-For': '2001:db8:1:2::10' });
  t.is(await getOverIpv6(byPrefix.port, '/files/a.zip', { 'X-Forwarded-For': '2001:db8:1:2::99' }), 200);
  t.is(await getOverIpv6(byPrefix.port, '/files/a.zip', { 'X-Forwarded-For': '2001:db8:1:3::10' }), 307);
  t.not(await byPrefix.store.get('2001:db8:1:2::/64'), undefined);

  // The peer itself, without a proxy in between.
  const direct = await site(t, { ipv6Prefix64: true }, '::1');
  await getOverIpv6(direct.port, '/');
  t.not(await direct.store.get('::/64'), undefined);
});
