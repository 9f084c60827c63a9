import type { Context } from 'koa';
import type { FileInfo } from './file-info.js';

/**
 * Which file a response's body is, whole and unchanged, when serveFile made it: a
 * response-side stage can then treat it as that file (mod_deflate keeps a compressed copy of
 * it in deflate.cache-dir), as lighttpd knows a body that is one file chunk. Kept per Koa
 * response, with the body it was set with: a stage that replaces the body ends the claim.
 */
const wholeFiles = new WeakMap<object, { file: FileInfo; body: unknown }>();

export function markWholeFile(ctx: Context, file: FileInfo): void {
  wholeFiles.set(ctx.response, { file, body: ctx.body });
}

/** The file the body still is, or undefined. */
export function wholeFileOf(ctx: Context): FileInfo | undefined {
  const held = wholeFiles.get(ctx.response);
  return held && held.body === ctx.body ? held.file : undefined;
}
