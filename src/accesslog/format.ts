/**
 * accesslog.format: lighttpd 1.4.69's format language (read in mod_accesslog.c), parsed once
 * at start. A format lighttpd refuses to start with is refused here with the same reason.
 *
 * `%X` or `%{arg}X`; `%<X` and `%>X` are `%X` (lighttpd has no internal redirects to tell
 * apart); `%%` is a `%` and `%l` (remote ident) a `-`. The letters:
 *
 *   a h  client address          A  server address (as bound)   p  %{local|remote|canonical}p port
 *   b B  body bytes sent, `-` for none (headers only: 0)          O  bytes sent, headers included
 *   I    bytes received          C  %{name}C a cookie            D  time taken, µs
 *   e n  %{NAME}e request environment (REMOTE_USER: %u)           f  physical path, `-` if none
 *   H    protocol  m  method     i  %{Name}i request header      o  %{Name}o response header
 *   k    requests before this one on the connection              q  query string (normalised)
 *   r    request line            s  status                       U  path, encoded (no query)
 *   t    time: `[%d/%b/%Y:%T %z]`; %{strftime}t; %{sec|msec|usec|nsec}t since the epoch;
 *        %{msec_frac|usec_frac|nsec_frac}t; a `begin:` prefix takes the request's start
 *   T    time taken: %{s|ms|us|ns}T (`sec`, `msec`, … too), whole seconds without an argument
 *   v    server.name, else the host   V  the host (authority)
 *   X    connection after the response: `+` kept, `-` closed, `X` aborted
 *   P    parsed and always empty (lighttpd: "we are only one process")
 */

export const DEFAULT_ACCESSLOG_FORMAT = '%h %V %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"';

/** A format lighttpd refuses; `message` is lighttpd's reason. */
export class AccessLogFormatError extends Error {
  override readonly name = 'AccessLogFormatError';
}

export type TimeUnit = 's' | 'ms' | 'us' | 'ns';

export type FormatField =
  | { kind: 'literal'; text: string }
  | { kind: 'request-header' | 'response-header' | 'env' | 'cookie'; name: string }
  | { kind: 'timestamp'; begin: boolean; strftime?: string }
  | { kind: 'epoch'; begin: boolean; unit: TimeUnit }
  | { kind: 'fraction'; begin: boolean; digits: 3 | 6 | 9 }
  | { kind: 'duration'; unit: TimeUnit }
  | { kind: 'port'; remote: boolean }
  | { kind: 'empty' }
  | { kind: SimpleKind };

/** The fields that take no argument and print one fact of the request. */
export type SimpleKind =
  | 'remote-addr'
  | 'local-addr'
  | 'body-bytes'
  | 'bytes-out'
  | 'bytes-in'
  | 'filename'
  | 'protocol'
  | 'keepalive-count'
  | 'method'
  | 'query'
  | 'request-line'
  | 'status'
  | 'url'
  | 'server-name'
  | 'host'
  | 'connection-status';

const SIMPLE: Record<string, SimpleKind> = {
  a: 'remote-addr',
  h: 'remote-addr',
  A: 'local-addr',
  b: 'body-bytes',
  B: 'body-bytes',
  O: 'bytes-out',
  I: 'bytes-in',
  f: 'filename',
  H: 'protocol',
  k: 'keepalive-count',
  m: 'method',
  q: 'query',
  r: 'request-line',
  s: 'status',
  U: 'url',
  v: 'server-name',
  V: 'host',
  X: 'connection-status',
};

/** The letters lighttpd knows; a `%{…}` before one that takes no argument is ignored. */
const LETTERS = new Set([
  ...Object.keys(SIMPLE),
  '%',
  'C',
  'D',
  'e',
  'i',
  'l',
  'n',
  'o',
  'p',
  'P',
  't',
  'T',
  'u',
]);

/**
 * lighttpd's processing of backslashes in accesslog.format as written in lighttpd.conf:
 * `\a \b \f \n \r \t \v` are those characters, a backslash before anything else stands for
 * that character (`\\` is `\`, `\q` is `q`), a backslash at the very end is dropped.
 */
export function unescapeConfigFormat(text: string): string {
  if (!text.includes('\\')) return text;
  const controls: Record<string, string> = {
    a: '\x07',
    b: '\b',
    f: '\f',
    n: '\n',
    r: '\r',
    t: '\t',
    v: '\v',
  };
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c !== '\\') out += c;
    else if (i + 1 < text.length) {
      const next = text[++i]!;
      out += controls[next] ?? next;
    }
  }
  return out;
}

/** Parses a format into its fields, or throws an AccessLogFormatError with lighttpd's reason. */
export function parseAccessLogFormat(format: string): FormatField[] {
  if (format === '')
    throw new AccessLogFormatError('parsing accesslog-definition failed: the format is empty');
  const fields: FormatField[] = [];
  // lighttpd keeps at most 127 fields (a run of text is one), and checks before each new one.
  const room = () => {
    if (fields.length >= 127) throw new AccessLogFormatError('too many fields (>= 127) in accesslog.format');
  };
  const literal = (text: string) => {
    const last = fields[fields.length - 1];
    if (last?.kind === 'literal') last.text += text;
    else {
      room();
      fields.push({ kind: 'literal', text });
    }
  };
  let i = 0;
  while (i < format.length) {
    const percent = format.indexOf('%', i);
    if (percent < 0) {
      literal(format.slice(i));
      break;
    }
    if (percent > i) literal(format.slice(i, percent));
    i = percent + 1;
    if (i === format.length) throw new AccessLogFormatError('% must be followed by a format-specifier');
    room();
    let arg: string | undefined;
    if (format[i] === '{') {
      const close = format.indexOf('}', i + 1);
      if (close < 0 || close === i + 1)
        throw new AccessLogFormatError('%{...} must contain string and %{ must be terminated by }');
      arg = format.slice(i + 1, close);
      i = close + 1;
    } else {
      if (format[i] === '<' || format[i] === '>') i++;
      if (format[i] === '%' || format[i] === 'l') {
        literal(format[i] === '%' ? '%' : '-');
        i++;
        continue;
      }
    }
    const letter = format[i];
    if (letter === undefined || !LETTERS.has(letter))
      throw new AccessLogFormatError('% or %{...} must be followed by a valid format-specifier');
    i++;
    fields.push(field(letter, arg ?? '', format));
  }
  checkOneTimestamp(fields, format);
  return fields;
}

function field(letter: string, arg: string, format: string): FormatField {
  switch (letter) {
    case 'i':
      return { kind: 'request-header', name: arg };
    case 'o':
      return { kind: 'response-header', name: arg };
    case 'e':
    case 'n':
      return { kind: 'env', name: arg };
    case 'u':
      return { kind: 'env', name: 'REMOTE_USER' };
    case 'C':
      // lighttpd prints nothing for %C without a name.
      return arg ? { kind: 'cookie', name: arg } : { kind: 'empty' };
    case 't':
      return timestamp(arg, format);
    case 'T':
      return { kind: 'duration', unit: durationUnit(arg, format) };
    case 'D':
      return { kind: 'duration', unit: 'us' };
    case 'p':
      if (arg === '' || arg === 'canonical' || arg === 'local') return { kind: 'port', remote: false };
      if (arg === 'remote') return { kind: 'port', remote: true };
      throw new AccessLogFormatError(`invalid format %{canonical,local,remote}p: ${format}`);
    case 'P':
    case '%': // `%{x}%` and `%{x}l` reach no special case in lighttpd: they print nothing
    case 'l':
      return { kind: 'empty' };
    default:
      return { kind: SIMPLE[letter]! };
  }
}

const EPOCH: Record<string, TimeUnit> = { sec: 's', msec: 'ms', usec: 'us', nsec: 'ns' };
const FRACTION: Record<string, 3 | 6 | 9> = { msec_frac: 3, usec_frac: 6, nsec_frac: 9 };

function timestamp(arg: string, format: string): FormatField {
  if (arg === '') return { kind: 'timestamp', begin: false };
  let begin = false;
  let spec = arg;
  if (spec.startsWith('begin:')) {
    begin = true;
    spec = spec.slice(6);
  } else if (spec.startsWith('end:')) spec = spec.slice(4);
  if (EPOCH[spec]) return { kind: 'epoch', begin, unit: EPOCH[spec] };
  if (FRACTION[spec]) return { kind: 'fraction', begin, digits: FRACTION[spec] };
  if (!spec.includes('%'))
    throw new AccessLogFormatError(
      `constant string for time format (misspelled token? or missing '%'): ${format}`,
    );
  return { kind: 'timestamp', begin, strftime: spec };
}

const DURATION: Record<string, TimeUnit> = {
  '': 's',
  s: 's',
  sec: 's',
  ms: 'ms',
  msec: 'ms',
  us: 'us',
  usec: 'us',
  ns: 'ns',
  nsec: 'ns',
};

function durationUnit(arg: string, format: string): TimeUnit {
  const unit = DURATION[arg];
  if (!unit) throw new AccessLogFormatError(`invalid time unit in %{UNIT}T: ${format}`);
  return unit;
}

/**
 * lighttpd caches one formatted time per format, so it allows one strftime `%t` (and counts
 * `%{sec}t` as one too): a second is refused.
 */
function checkOneTimestamp(fields: FormatField[], format: string): void {
  const times = fields.filter((f) => f.kind === 'timestamp' || (f.kind === 'epoch' && f.unit === 's'));
  if (times.length > 1)
    throw new AccessLogFormatError(
      `you may not use strftime timestamp format %{}t twice in the same access log: ${format}`,
    );
}
