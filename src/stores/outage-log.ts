import type { Logger } from '../log.js';

/** One outage: from the first failed call to the first one that worked again (none: still on). */
export interface Outage {
  from: number;
  to?: number;
  failures: number;
  reason: string;
}

/** Outages kept for the status page, newest last. */
const HISTORY = 20;

/**
 * Logs a store outage once when it starts and once when it ends, however many requests fail
 * in between: a dead memcached under load must not flood the error log.
 */
export class OutageLog {
  private failures = 0;
  readonly #history: Outage[] = [];

  constructor(
    private readonly log: Logger,
    private readonly source: string,
    private readonly storeName: string,
    /** What requests get during the outage, for the first log line. */
    private readonly consequence: string,
  ) {}

  failed(error: unknown): void {
    this.failures++;
    if (this.failures > 1) {
      this.#history[this.#history.length - 1]!.failures = this.failures;
      return;
    }
    const reason = error instanceof Error ? error.message : String(error);
    this.#history.push({ from: Date.now(), failures: 1, reason });
    if (this.#history.length > HISTORY) this.#history.shift();
    this.log.error(this.source, `${this.storeName} unreachable (${reason}); ${this.consequence}`);
  }

  succeeded(): void {
    if (this.failures === 0) return;
    this.#history[this.#history.length - 1]!.to = Date.now();
    this.log.info(
      this.source,
      `${this.storeName} answers again after ${this.failures} failed call${this.failures === 1 ? '' : 's'}`,
    );
    this.failures = 0;
  }

  get inOutage(): boolean {
    return this.failures > 0;
  }

  /** The last outages, oldest first; the last one has no `to` while it lasts. */
  get history(): readonly Readonly<Outage>[] {
    return this.#history;
  }
}
