import net from 'node:net';
import test from 'ava';
import { acceptsConnections, deadPort, ephemeralPorts, freePort } from './helpers/ports.js';

// Both helpers exist because CI once failed on a port another test process took in between.

test('freePort() picks below the kernel ephemeral range, where listen(0) never lands', async (t) => {
  const { low } = ephemeralPorts();
  for (let i = 0; i < 200; i++) {
    const port = await freePort();
    t.true(port >= 10_000 && port < low, `port ${port}`);
  }
});

test('a dead port refuses connections, and listen(0) elsewhere does not get it while it is held', async (t) => {
  const port = await deadPort(t);
  t.false(await acceptsConnections(port));
  for (let i = 0; i < 2000; i++) {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const taken = (server.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (taken === port) t.fail(`listen(0) was given the dead port ${port}`);
  }
  t.false(await acceptsConnections(port));
});
