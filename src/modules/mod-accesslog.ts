import type { AccessLogEscaping } from '../accesslog/escape.js';
import { AccessLogFormatError, parseAccessLogFormat, unescapeConfigFormat } from '../accesslog/format.js';
import { openLogOutput } from '../accesslog/output.js';
import type { OptionReader } from '../config/option-reader.js';
import { accessLog } from '../server/access-log.js';
import { module } from './descriptor.js';

interface AccessLogStage {
  filename: string;
  format?: string;
  escaping: AccessLogEscaping;
  serverName?: string;
}

/**
 * mod_accesslog: one line per request once its response has finished. Every option may be set
 * in a block (a block's own file or format); one file or program per name, shared by all.
 */
export const modAccesslog = module({
  name: 'mod_accesslog',
  hook: 'request_done',
  keys: {
    'accesslog.filename': 'string',
    'accesslog.format': 'string',
    'accesslog.escaping': 'string',
    'accesslog.use-syslog': 'boolean',
    'accesslog.syslog-level': 'integer',
  },
  optionKeys: { output: 'accesslog.filename', format: 'accesslog.format' },
  read: readAccessLog,
  stage({ filename, ...options }: AccessLogStage, build) {
    const output = build.shared('accesslog-output', filename, () => {
      const opened = openLogOutput(filename, build.log);
      build.onClose(() => opened.close());
      return opened;
    });
    return accessLog({ ...options, output, log: build.log });
  },
});

/**
 * The format is checked wherever it is set, with or without a file (lighttpd refuses a bad
 * one at start, `-tt` too). syslog is refused: Node cannot write to /dev/log (a datagram
 * socket), and a log silently not written is worse than a server that says so.
 */
function readAccessLog(r: OptionReader): AccessLogStage | undefined {
  const raw = r.string('accesslog.format');
  const format = raw === undefined ? undefined : unescapeConfigFormat(raw);
  if (format !== undefined) {
    try {
      parseAccessLogFormat(format);
    } catch (error) {
      if (error instanceof AccessLogFormatError) throw r.error('accesslog.format', error.message);
      throw error;
    }
  }
  r.int('accesslog.syslog-level', 6);
  if (r.bool('accesslog.use-syslog', false))
    throw r.error(
      'accesslog.use-syslog',
      'koa-lighty cannot write to syslog (Node has no unix datagram sockets for /dev/log); ' +
        'pipe the lines to logger(1) instead: accesslog.filename = "|/usr/bin/logger -t lighttpd -p user.info"',
    );
  const filename = r.string('accesslog.filename');
  if (!filename) return undefined;
  // lighttpd: "json" is JSON escaping, any other value the default.
  const escaping = r.string('accesslog.escaping') === 'json' ? 'json' : 'default';
  return { filename, format, escaping, serverName: r.string('server.name') || undefined };
}
