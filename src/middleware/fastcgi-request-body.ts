import type { FileHandle } from 'node:fs/promises';
import { open, unlink } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

/**
 * The request body as the backend gets it on STDIN, with its length for CONTENT_LENGTH.
 *
 * php-cgi reads exactly CONTENT_LENGTH bytes of STDIN and no more, so a body must have a known
 * length before the request starts. With Content-Length the client's stream goes straight
 * through, with backpressure. A chunked body (no Content-Length) is spooled first, as lighttpd
 * does: in memory up to SPOOL_IN_MEMORY, then in an unlinked temporary file, so a large upload
 * never sits in memory.
 */
export interface BackendRequestBody {
  length: number;
  body: Readable | Buffer | undefined;
  /** Closes the spool file if the body was not read to its end. */
  discard(): Promise<void>;
}

const SPOOL_IN_MEMORY = 1024 * 1024;

/**
 * A body with a length (or none) is known at once; a chunked one is a promise, settled once
 * it is spooled.
 */
export function backendRequestBody(req: IncomingMessage): BackendRequestBody | Promise<BackendRequestBody> {
  const declared = req.headers['content-length'];
  if (declared !== undefined) {
    // Node's parser has checked it is one non-negative integer.
    const length = Number(declared);
    return length > 0 ? { length, body: req, discard: nothingToDiscard } : NO_BODY;
  }
  if (req.headers['transfer-encoding'] === undefined) return NO_BODY;
  return spool(req);
}

const nothingToDiscard = async () => {};
const NO_BODY: BackendRequestBody = Object.freeze({ length: 0, body: undefined, discard: nothingToDiscard });

async function spool(req: IncomingMessage): Promise<BackendRequestBody> {
  const chunks: Buffer[] = [];
  let length = 0;
  let file: FileHandle | undefined;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      length += chunk.length;
      if (!file && length <= SPOOL_IN_MEMORY) {
        chunks.push(chunk);
        continue;
      }
      if (!file) {
        file = await openUnlinkedTempFile();
        await file.writev(chunks.splice(0));
      }
      await file.write(chunk);
    }
  } catch (error) {
    await file?.close();
    throw error;
  }
  if (!file) {
    const body = Buffer.concat(chunks, length);
    return { length, body: length > 0 ? body : undefined, discard: async () => {} };
  }
  // The stream reads nothing until the backend takes it; destroying it closes the file.
  const body = file.createReadStream({ start: 0, autoClose: true });
  return {
    length,
    body,
    discard: async () => {
      if (!body.readableEnded) body.destroy();
    },
  };
}

/** A temporary file nobody else can open: unlinked as soon as it is open. */
async function openUnlinkedTempFile(): Promise<FileHandle> {
  const path = join(
    tmpdir(),
    `koa-lighty-body-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`,
  );
  const file = await open(path, 'wx+', 0o600);
  await unlink(path);
  return file;
}
