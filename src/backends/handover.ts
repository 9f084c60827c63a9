/**
 * Backends shared across a graceful restart (SIGUSR1): the new app takes over the running
 * php-cgi and its pools when their options did not change, so a backend may have two owners
 * (the app being retired and the new one) for a while. It is stopped when its last owner
 * releases it. An owner is one app's map of backends by address.
 */
import type { Backend } from './backend.js';

const owners = new WeakMap<Backend, Set<object>>();
const stops = new WeakMap<Backend, { promise: Promise<void>; resolve(): void; started: boolean }>();

function stopOf(backend: Backend) {
  let stop = stops.get(backend);
  if (!stop) {
    let resolve!: () => void;
    const promise = new Promise<void>((r) => {
      resolve = r;
    });
    stop = { promise, resolve, started: false };
    stops.set(backend, stop);
  }
  return stop;
}

export function holdBackend(backend: Backend, owner: object): void {
  let held = owners.get(backend);
  if (!held) {
    held = new Set();
    owners.set(backend, held);
  }
  held.add(owner);
}

/** The owner is done with the backend; the last one stops it. Resolves once that is done. */
export function releaseBackend(backend: Backend, owner: object): Promise<void> {
  const held = owners.get(backend);
  held?.delete(owner);
  if (held && held.size > 0) return Promise.resolve();
  const stop = stopOf(backend);
  if (!stop.started) {
    stop.started = true;
    backend.stop().finally(() => stop.resolve());
  }
  return stop.promise;
}

/**
 * Resolves when the backend has been stopped by its last owner: a replacement on the same
 * address (changed options) starts only then, as both cannot listen there at once.
 */
export function backendStopped(backend: Backend): Promise<void> {
  return stopOf(backend).promise;
}
