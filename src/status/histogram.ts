/**
 * Request latency in fixed buckets (milliseconds): counting a request is one loop over a few
 * bounds and one increment, with nothing allocated. Percentiles are read as the upper bound of
 * the bucket they fall in, which is all a fixed histogram can say, and what Prometheus does too.
 */
export const LATENCY_BOUNDS_MS = [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000] as const;

export class LatencyHistogram {
  /** counts[i]: requests of at most LATENCY_BOUNDS_MS[i] (and above the bound before); the last is +Inf. */
  readonly counts = new Float64Array(LATENCY_BOUNDS_MS.length + 1);
  sumMs = 0;
  total = 0;

  observe(ms: number): void {
    let i = 0;
    while (i < LATENCY_BOUNDS_MS.length && ms > LATENCY_BOUNDS_MS[i]!) i++;
    this.counts[i]!++;
    this.sumMs += ms;
    this.total++;
  }

  /** The bound below which `q` (0..1) of the requests fell; Infinity past the last bound; undefined with none. */
  percentile(q: number): number | undefined {
    if (this.total === 0) return undefined;
    const wanted = Math.ceil(q * this.total);
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!;
      if (seen >= wanted) return LATENCY_BOUNDS_MS[i] ?? Number.POSITIVE_INFINITY;
    }
    return Number.POSITIVE_INFINITY;
  }
}

/**
 * Requests per second over the last five whole seconds, as lighttpd's "5s sliding average":
 * one counter per second in a ring, no timer.
 */
export class SlidingRate {
  readonly #seconds = new Float64Array(6);
  readonly #counts = new Float64Array(6);

  count(nowMs: number, amount = 1): void {
    const second = Math.floor(nowMs / 1000);
    const at = second % 6;
    if (this.#seconds[at] !== second) {
      this.#seconds[at] = second;
      this.#counts[at] = 0;
    }
    this.#counts[at]! += amount;
  }

  /** The mean of the five seconds before the current one. */
  perSecond(nowMs: number): number {
    const second = Math.floor(nowMs / 1000);
    let sum = 0;
    for (let back = 1; back <= 5; back++) {
      const at = (second - back) % 6;
      if (this.#seconds[at] === second - back) sum += this.#counts[at]!;
    }
    return sum / 5;
  }
}
