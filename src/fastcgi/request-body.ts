/**
 * The request body on its way to STDIN. It streams from a Readable with backpressure (a
 * 1 GiB upload never sits in memory) and remembers the first bytes it handed out, so that a
 * request whose kept connection turns out to be closed can be sent again on a fresh one.
 * Once more than `replayLimit` bytes have left, that memory is dropped and the body is no
 * longer replayable: a retry would need bytes that are gone.
 */
import type { Readable } from 'node:stream';
import { noteBodyBytes } from '../http/body-garbage.js';
import { RequestBodyFailed } from './errors.js';

export interface BodySink {
  /** Sends a chunk; false means "wait for drain()" before the next one. */
  write(chunk: Buffer): boolean;
  /** Registers the one callback to run when the sink can take more. */
  onDrain(resume: () => void): void;
  end(): void;
  fail(error: RequestBodyFailed): void;
}

export const DEFAULT_REPLAY_LIMIT = 64 * 1024;

export class RequestBody {
  private sent: Buffer[] = [];
  private sentBytes = 0;
  private lost = false;
  private ended: boolean;
  private detachCurrent: (() => void) | undefined;

  constructor(
    private readonly source?: Readable | Buffer | null,
    private readonly replayLimit = DEFAULT_REPLAY_LIMIT,
  ) {
    this.ended = !source || Buffer.isBuffer(source);
    if (Buffer.isBuffer(source) && source.length > 0) this.sent = [source];
  }

  /** Whether every byte handed out so far can be handed out again. */
  get replayable(): boolean {
    return !this.lost;
  }

  /** Whether a new RequestBody over the same source would start from the beginning (no stream read). */
  get restartable(): boolean {
    return !this.source || Buffer.isBuffer(this.source);
  }

  /** Feeds the sink from the start (replaying what was sent before); returns a detach function. */
  start(sink: BodySink): () => void {
    this.detachCurrent?.();
    for (const chunk of this.sent) sink.write(chunk);
    const source = this.source;
    if (this.ended || !source || Buffer.isBuffer(source)) {
      sink.end();
      return () => {};
    }
    if (source.readableEnded) {
      this.ended = true;
      sink.end();
      return () => {};
    }
    if (source.destroyed) {
      sink.fail(new RequestBodyFailed('request body was destroyed before it was sent'));
      return () => {};
    }

    const onData = (chunk: Buffer | string) => {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      this.remember(buf);
      noteBodyBytes(buf.length);
      if (!sink.write(buf)) {
        source.pause();
        sink.onDrain(() => source.resume());
      }
    };
    const onEnd = () => {
      this.ended = true;
      detach();
      sink.end();
    };
    const onError = (error: Error) => {
      detach();
      sink.fail(new RequestBodyFailed(`request body failed: ${error.message}`, { cause: error }));
    };
    const onClose = () => {
      if (this.ended) return;
      detach();
      sink.fail(new RequestBodyFailed('request body closed before its end (client went away?)'));
    };
    const detach = () => {
      source.off('data', onData);
      source.off('end', onEnd);
      source.off('error', onError);
      source.off('close', onClose);
      source.pause();
      if (this.detachCurrent === detach) this.detachCurrent = undefined;
    };
    this.detachCurrent = detach;
    source.on('data', onData);
    source.once('end', onEnd);
    source.once('error', onError);
    source.once('close', onClose);
    source.resume();
    return detach;
  }

  private remember(chunk: Buffer): void {
    if (this.lost) return;
    this.sentBytes += chunk.length;
    if (this.sentBytes > this.replayLimit) {
      this.lost = true;
      this.sent = [];
      return;
    }
    this.sent.push(chunk);
  }
}
