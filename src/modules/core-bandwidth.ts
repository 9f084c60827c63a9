import { ByteBudget } from '../http/bandwidth.js';
import { bandwidth } from '../middleware/bandwidth.js';
import { module } from './descriptor.js';

interface BandwidthSettings {
  connection: number;
  server: number;
  /** Where server.kbytes-per-second was set: lighttpd keeps one shared budget per assignment. */
  serverAt?: string;
}

/**
 * server.kbytes-per-second, connection.kbytes-per-second, and PHP's
 * X-LIGHTTPD-KBytes-per-second. lighttpd paces the connection itself, after every module; here
 * the stage sits in the outermost hook (only the access log, which just watches, is outside
 * it), so it paces what the others made of the body. With mod_fastcgi loaded it is always
 * there, for the header.
 */
export const coreBandwidth = module<BandwidthSettings>({
  name: 'server.kbytes-per-second',
  hook: 'request_done',
  core: true,
  keys: { 'server.kbytes-per-second': 'integer', 'connection.kbytes-per-second': 'integer' },
  pure: true,
  optionKeys: {
    connectionKBytesPerSecond: 'connection.kbytes-per-second',
    serverKBytesPerSecond: 'server.kbytes-per-second',
  },
  read(r) {
    const connection = r.int('connection.kbytes-per-second', 0, { min: 0, max: 65535 });
    const server = r.int('server.kbytes-per-second', 0, { min: 0, max: 65535 });
    const backends = r.list('server.modules').includes('mod_fastcgi');
    if (connection === 0 && server === 0 && !backends) return undefined;
    const at = r.where('server.kbytes-per-second');
    return { connection, server, serverAt: server > 0 ? `${at.file}:${at.line}` : undefined };
  },
  stage: ({ connection, server, serverAt }, build) =>
    bandwidth({
      connectionKBytesPerSecond: connection,
      serverKBytesPerSecond: serverAt
        ? build.shared('server-bandwidth', serverAt, () => new ByteBudget(server * 1024))
        : 0,
    }),
});
