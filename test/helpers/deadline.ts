import type { Middleware } from 'koa';

/**
 * Deadline checks that a loaded machine does not fail. The code under test keeps its deadline
 * with a timer of the test's own process; a timer started at the same moment is late by as
 * much, so "how long after that timer fired did the work settle" measures the code, while a
 * stopwatch also measures how busy the machine was (on an overloaded machine, a 200 ms deadline
 * was once kept 942 ms after the call).
 */

/** How much later than its deadline a call may settle: its way back through the event loop. */
export const DEADLINE_SLACK_MS = 250;

export interface DeadlineOutcome<T> {
  outcome: PromiseSettledResult<T>;
  /** Milliseconds from the deadline to the settling; negative when the work settled before it. */
  lateMs: number;
}

/** Runs `work` (which starts its deadline at once) beside a timer of `deadlineMs`. */
export async function againstDeadline<T>(
  work: () => Promise<T>,
  deadlineMs: number,
): Promise<DeadlineOutcome<T>> {
  const witness = deadlineWitness(deadlineMs);
  const [outcome] = await Promise.allSettled([work()]);
  return { outcome: outcome!, lateMs: witness.lateMs() };
}

/**
 * For a server in the test process: as each request enters, a timer of `deadlineMs` starts,
 * and the response carries `X-Test-Late-Ms`, how long after that timer the stages below
 * answered. Measured inside, because a request can wait for the loaded machine before the
 * server sees it, and the deadline under test only starts then.
 */
export function lateHeader(deadlineMs: number): Middleware {
  return async function lateHeader(ctx, next) {
    const witness = deadlineWitness(deadlineMs);
    try {
      await next();
    } finally {
      ctx.set('X-Test-Late-Ms', String(witness.lateMs()));
    }
  };
}

function deadlineWitness(deadlineMs: number) {
  const started = performance.now();
  let fired: number | undefined;
  const timer = setTimeout(() => {
    fired = performance.now();
  }, deadlineMs);
  return {
    lateMs() {
      clearTimeout(timer);
      const now = performance.now();
      return fired === undefined ? Math.min(0, now - started - deadlineMs) : now - fired;
    },
  };
}
