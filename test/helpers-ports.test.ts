import test from 'ava';
import { acceptsConnections, deadPort, freePort } from './helpers/ports.js';

// The "dead host" tests once failed in CI: the port freePort() had released was handed to another
// test process, which started a FastCGI server there, and the dead host answered.
test('a dead port refuses connections and is never handed out by freePort() while held', async (t) => {
  const port = await deadPort(t);
  t.false(await acceptsConnections(port));
  for (let i = 0; i < 2000; i++) t.not(await freePort(), port);
  t.false(await acceptsConnections(port));
});
