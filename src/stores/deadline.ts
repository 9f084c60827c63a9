/** Thrown when a store call does not settle in time; the caller treats it like any store failure. */
export class StoreDeadlineExceeded extends Error {
  constructor(what: string, ms: number) {
    super(`${what} gave no answer within ${Math.round(ms)} ms`);
    this.name = 'StoreDeadlineExceeded';
  }
}

/**
 * Settles with `work`, or rejects with StoreDeadlineExceeded after `ms`. A request must never
 * wait on a silent server longer than the deadline; `work` keeps running, and a late
 * rejection of it is swallowed here so it can never become an unhandled rejection.
 */
export function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  work.catch(() => {});
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StoreDeadlineExceeded(what, ms)), ms);
  });
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}
