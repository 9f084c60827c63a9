import type { Logger } from '../log.js';

/**
 * Logs a store outage once when it starts and once when it ends, however many requests fail
 * in between: a dead memcached under load must not flood the error log.
 */
export class OutageLog {
  private failures = 0;

  constructor(
    private readonly log: Logger,
    private readonly source: string,
    private readonly storeName: string,
    /** What requests get during the outage, for the first log line. */
    private readonly consequence: string,
  ) {}

  failed(error: unknown): void {
    this.failures++;
    if (this.failures > 1) return;
    const reason = error instanceof Error ? error.message : String(error);
    this.log.error(this.source, `${this.storeName} unreachable (${reason}); ${this.consequence}`);
  }

  succeeded(): void {
    if (this.failures === 0) return;
    this.log.info(
      this.source,
      `${this.storeName} answers again after ${this.failures} failed call${this.failures === 1 ? '' : 's'}`,
    );
    this.failures = 0;
  }

  get inOutage(): boolean {
    return this.failures > 0;
  }
}
