/**
 * One `$HTTP["field"] op "pattern"` test, compiled once at parse time into a closure over the
 * request Facts (configparser_parse_condition + config_check_cond_nocache_eval of 1.4.69).
 */
import { decodeByteString, type Facts, toByteString } from './facts.js';
import { type IpNetwork, ipInNetwork, parseIpAddress, parseIpNetwork } from './ip-address.js';
import { compilePcre, UnsupportedRegex } from './pcre.js';

export type ConditionOp = '==' | '!=' | '=~' | '!~' | '=^' | '=$';

/** The fact a condition reads; `header` is `$REQUEST_HEADER["Name"]`, `socket` is `$SERVER["socket"]`. */
export type ConditionField =
  | 'url'
  | 'host'
  | 'referer'
  | 'useragent'
  | 'cookie'
  | 'language'
  | 'remoteip'
  | 'querystring'
  | 'request-method'
  | 'scheme'
  | 'header'
  | 'socket';

export interface Condition {
  /** `HTTP`, `REQUEST_HEADER` or `SERVER`, as after the `$`. */
  readonly object: string;
  /** The text in the brackets as written: `url`, `user-agent`, `X-Forwarded-Proto`, `socket`. */
  readonly name: string;
  readonly field: ConditionField;
  /**
   * The operator and pattern lighttpd actually uses: a plain regex like `^/dl/` or `\.jpg$` is
   * turned into `=^ "/dl/"` or `=$ ".jpg"` (configparser_simplify_regex), as `lighttpd -p` shows.
   */
  readonly op: ConditionOp;
  readonly pattern: string;
  /** The operator and pattern as written in the file. */
  readonly writtenOp: ConditionOp;
  readonly writtenPattern: string;
  /** `$HTTP["url"] =^ "/dl/"`: for messages and printing. */
  readonly text: string;
  readonly test: (facts: Facts) => boolean;
  /**
   * For `=~`: the regex's match on the fact (`%0`…`%9` of url.redirect and url.rewrite-* in
   * the block), or undefined when it does not match. Other operators capture nothing.
   */
  readonly captures?: (facts: Facts) => RegExpExecArray | undefined;
}

const HTTP_FIELDS: Record<string, ConditionField> = {
  url: 'url',
  host: 'host',
  referer: 'referer',
  useragent: 'useragent',
  'user-agent': 'useragent',
  language: 'language',
  cookie: 'cookie',
  remoteip: 'remoteip',
  'remote-ip': 'remoteip',
  querystring: 'querystring',
  'query-string': 'querystring',
  'request-method': 'request-method',
  scheme: 'scheme',
};

/**
 * Throws a plain Error with lighttpd's wording; the parser adds file and line. `simplify`
 * false keeps a `=~` a regex even when it is a plain prefix, suffix or equality.
 */
export function compileCondition(
  object: string,
  name: string,
  op: ConditionOp,
  written: string,
  simplify = true,
): Condition {
  const field = resolveField(object, name);
  const simplified =
    op === '=~' && field !== 'socket' && simplify ? simplifyRegex(written) : { op, pattern: written };
  let pattern = simplified.pattern;
  const effectiveOp = simplified.op;
  const literal =
    effectiveOp === '==' || effectiveOp === '!=' || effectiveOp === '=^' || effectiveOp === '=$';
  if (field === 'host' && literal) pattern = normaliseHostPattern(pattern);
  const text = `$${object}["${name}"] ${effectiveOp} "${pattern}"`;
  return {
    object,
    name,
    field,
    op: effectiveOp,
    pattern,
    writtenOp: op,
    writtenPattern: written,
    text,
    test: buildTest(field, name, effectiveOp, pattern),
    captures: effectiveOp === '=~' ? buildCaptures(field, name, pattern) : undefined,
  };
}

/**
 * The condition as lighttpd evaluates it once a url.redirect or url.rewrite-* target in its
 * block uses `%n` (configfile.c, config_finalize): a comparison that was written as, or
 * simplified to, `==`, `=^` or `=$` becomes a regex again (`^lit$`, `^lit`, `lit$`, `\.ext$`),
 * so that it has captures; the regex then decides the match too (`.` matches any character,
 * and a host `==` no longer ignores a `:port`). Other operators are returned as they are.
 */
export function capturingCondition(condition: Condition): Condition {
  const { op, pattern } = condition;
  if (op !== '==' && op !== '=^' && op !== '=$') return condition;
  let regex = pattern;
  if (op !== '=$' || regex.startsWith('.')) regex = (op === '=$' ? '\\' : '^') + regex;
  if (op !== '=^') regex += '$';
  return {
    ...compileCondition(condition.object, condition.name, '=~', regex, false),
    writtenOp: condition.writtenOp,
    writtenPattern: condition.writtenPattern,
  };
}

function resolveField(object: string, name: string): ConditionField {
  if (object === 'HTTP' && HTTP_FIELDS[name]) return HTTP_FIELDS[name];
  if (object === 'REQUEST_HEADER' && name !== '') return 'header';
  if (object === 'SERVER' && name === 'socket') return 'socket';
  throw new Error(`unknown condition $${object}["${name}"]`);
}

const REGEX_CHARS = /[\\^$.|?*+()[\]{}]/;

/** configparser_simplify_regex: `^lit$` → ==, `^lit` → =^, `lit$` / `\.lit$` → =$. */
function simplifyRegex(regex: string): { op: ConditionOp; pattern: string } {
  let op: ConditionOp;
  let body: string;
  if (regex.endsWith('$')) {
    if (regex.startsWith('\\.')) {
      op = '=$';
      body = regex.slice(1, -1); // keep the `.` of `\.ext`
      if (REGEX_CHARS.test(body.slice(1))) return { op: '=~', pattern: regex };
      return { op, pattern: body };
    }
    if (regex.startsWith('^')) {
      op = '==';
      body = regex.slice(1, -1);
    } else {
      op = '=$';
      body = regex.slice(0, -1);
    }
  } else if (regex.startsWith('^')) {
    op = '=^';
    body = regex.slice(1);
  } else {
    return { op: '=~', pattern: regex };
  }
  if (REGEX_CHARS.test(body)) return { op: '=~', pattern: regex };
  return { op, pattern: body };
}

/** Request authorities are lower-cased by lighttpd, so literal host patterns are too. */
function normaliseHostPattern(pattern: string): string {
  const port = /[^:]:(\d+)$/.exec(pattern);
  if (port && Number(port[1]) > 65535) {
    throw new Error(`invalid IP addr: ${pattern}`);
  }
  return pattern.toLowerCase();
}

type Read = (facts: Facts) => string;

function reader(field: ConditionField, name: string): Read {
  switch (field) {
    case 'url':
      return (f) => f.url;
    case 'host':
      return (f) => f.host;
    case 'referer':
      return (f) => f.referer ?? '';
    case 'useragent':
      return (f) => f.useragent ?? '';
    case 'cookie':
      return (f) => f.cookie ?? '';
    case 'language':
      return (f) => f.language ?? '';
    case 'remoteip':
      return (f) => f.remoteip;
    case 'querystring':
      return (f) => f.querystring;
    case 'request-method':
      return (f) => f.requestMethod;
    case 'scheme':
      return (f) => f.scheme;
    case 'socket':
      return (f) => f.serverSocket;
    case 'header':
      return (f) => f.header(name) ?? '';
  }
}

function buildTest(
  field: ConditionField,
  name: string,
  op: ConditionOp,
  pattern: string,
): (f: Facts) => boolean {
  const read = reader(field, name);
  const bytes = toByteString(pattern);
  switch (op) {
    case '==':
    case '!=': {
      const equal = equality(field, bytes, read);
      return op === '==' ? equal : (f) => !equal(f);
    }
    case '=^':
      return (f) => read(f).startsWith(bytes);
    case '=$':
      return (f) => read(f).endsWith(bytes);
    case '=~':
    case '!~': {
      const regex = compileRegex(pattern);
      const matches = (f: Facts) => {
        const text = decodeByteString(read(f));
        // PCRE2 in UTF mode fails on invalid UTF-8; lighttpd counts that as "no match".
        return text !== undefined && regex.test(text);
      };
      return op === '=~' ? matches : (f) => !matches(f);
    }
  }
}

function buildCaptures(
  field: ConditionField,
  name: string,
  pattern: string,
): (f: Facts) => RegExpExecArray | undefined {
  const read = reader(field, name);
  const regex = compileRegex(pattern);
  return (f) => {
    const text = decodeByteString(read(f));
    return (text !== undefined && regex.exec(text)) || undefined;
  };
}

function compileRegex(pattern: string): RegExp {
  try {
    return compilePcre(pattern);
  } catch (error) {
    const why = error instanceof UnsupportedRegex ? error.message : (error as Error).message;
    throw new Error(`invalid regex ${JSON.stringify(pattern)}: ${why}`);
  }
}

function equality(field: ConditionField, pattern: string, read: Read): (f: Facts) => boolean {
  if (field === 'host' && !pattern.startsWith('/')) return (f) => hostEquals(read(f), pattern);
  if (field === 'remoteip' && !pattern.startsWith('/')) {
    const network = parseIpNetwork(pattern);
    if (!network) throw new Error(`invalid IP addr: ${pattern}`);
    return remoteIpTest(network, read);
  }
  return (f) => read(f) === pattern;
}

/**
 * lighttpd's host ==: when lengths differ, the longer side may carry a `:port` the other
 * lacks (`blocked.example` equals `blocked.example:30081`); equal lengths compare exactly.
 */
export function hostEquals(host: string, pattern: string): boolean {
  const hlen = host.length;
  const plen = pattern.length;
  if (hlen === 0 || hlen === plen) return host === pattern;
  if (hlen > plen) return host[plen] === ':' && hlen - plen <= 6 && host.startsWith(pattern);
  return pattern[hlen] === ':' && pattern.startsWith(host);
}

function remoteIpTest(network: IpNetwork, read: Read): (f: Facts) => boolean {
  // A connection asks many conditions about one address: remember the last one parsed.
  let lastText: string | undefined;
  let lastBytes: Uint8Array | undefined;
  return (f) => {
    const text = read(f);
    if (text !== lastText) {
      lastText = text;
      lastBytes = parseIpAddress(text);
    }
    return lastBytes !== undefined && ipInNetwork(lastBytes, network);
  };
}
