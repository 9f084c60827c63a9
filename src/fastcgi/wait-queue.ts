/**
 * Requests waiting for a connection, first come first served. A waiter can leave early
 * (queue timeout, client gone) without the queue scanning for it: it is marked and skipped
 * when it reaches the front, so every operation stays O(1).
 */
export interface Waiter<T> {
  grant(value: T): void;
  /** Ends the wait with an error (the queue is being shut down). */
  cancel(error: Error): void;
  /** False once the waiter left (timed out or aborted); a left waiter is never granted. */
  waiting: boolean;
}

export class WaitQueue<T> {
  private items: (Waiter<T> | undefined)[] = [];
  private head = 0;
  private live = 0;

  /** Waiters still waiting. */
  get length(): number {
    return this.live;
  }

  push(waiter: Waiter<T>): void {
    this.items.push(waiter);
    this.live++;
  }

  /** Marks a waiter as gone; it will be skipped. */
  leave(waiter: Waiter<T>): void {
    if (!waiter.waiting) return;
    waiter.waiting = false;
    this.live--;
  }

  /** The first waiter still waiting, removed from the queue. */
  shift(): Waiter<T> | undefined {
    while (this.head < this.items.length) {
      const waiter = this.items[this.head];
      this.items[this.head++] = undefined;
      if (waiter?.waiting) {
        waiter.waiting = false;
        this.live--;
        this.compact();
        return waiter;
      }
    }
    this.compact();
    return undefined;
  }

  private compact(): void {
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
