import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Polls until `condition` holds, for up to `ms`; returns whether it did. For what another
 * process or a later turn of the event loop will do: a fixed sleep before asserting it fails
 * on a loaded machine.
 */
export async function eventually(condition: () => boolean, ms = 5000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await sleep(10);
  }
  return true;
}
