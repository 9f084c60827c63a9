import { createWriteStream } from 'node:fs';
import type { Middleware } from 'koa';

/**
 * accesslog.filename: one line per request in lighttpd's default format, which is Apache's
 * "combined" with the virtual host after the client address:
 *   %h %V %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"
 * Lines are written when the response has finished, with the bytes the body really took.
 */
export function accessLog(file: string | { write(line: string): unknown }): Middleware {
  const out = typeof file === 'string' ? createWriteStream(file, { flags: 'a' }) : file;
  return async function accessLogLine(ctx, next) {
    const res = ctx.res;
    const written = () => {
      const socket = ctx.req.socket;
      const headerBytes = (res as unknown as { _header?: string })._header?.length ?? 0;
      const total = (socket.bytesWritten ?? 0) - startBytes;
      const body = Math.max(total - headerBytes, 0);
      const host = ctx.get('Host') || '-';
      const line = `${ctx.ip || '-'} ${host} - [${clf(new Date())}] "${escapeLogField(`${ctx.method} ${ctx.req.url} HTTP/${ctx.req.httpVersion}`)}" ${res.statusCode} ${body || '-'} "${escapeLogField(ctx.get('Referer') || '-')}" "${escapeLogField(ctx.get('User-Agent') || '-')}"\n`;
      out.write(line);
    };
    const startBytes = ctx.req.socket.bytesWritten ?? 0;
    res.once('finish', written);
    res.once('close', () => {
      if (!res.writableFinished) res.off('finish', written);
    });
    await next();
  };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function clf(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

/** Quotes and control characters from the client must not forge log lines. */
function escapeLogField(s: string): string {
  return s.replace(/["\\\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
