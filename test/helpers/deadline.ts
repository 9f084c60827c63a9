/**
 * Deadline checks that a loaded machine does not fail. The code under test keeps its deadline
 * with a timer of the test's own process; a timer started here at the same moment is late by
 * as much, so "how long after that timer fired did the work settle" measures the code, while a
 * stopwatch would also measure how busy the machine was (CI once saw a 200 ms deadline kept
 * 942 ms after the call on an overloaded machine).
 */
export interface DeadlineOutcome<T> {
  outcome: PromiseSettledResult<T>;
  /** Milliseconds from the deadline to the settling; negative when the work settled before it. */
  lateMs: number;
}

export async function againstDeadline<T>(
  work: () => Promise<T>,
  deadlineMs: number,
): Promise<DeadlineOutcome<T>> {
  const started = performance.now();
  let fired: number | undefined;
  const timer = setTimeout(() => {
    fired = performance.now();
  }, deadlineMs);
  const [outcome] = await Promise.allSettled([work()]);
  const settled = performance.now();
  clearTimeout(timer);
  return {
    outcome: outcome!,
    lateMs: fired === undefined ? Math.min(0, settled - started - deadlineMs) : settled - fired,
  };
}

/** How much later than its deadline a call may settle: the rejection's way back through the event loop, and I/O. */
export const DEADLINE_SLACK_MS = 250;
