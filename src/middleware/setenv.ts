import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context, Middleware } from 'koa';
import { toByteString } from '../config/facts.js';
import { errorPageBody } from '../http/error-page.js';
import { requestState } from '../http/request-state.js';
import { OptionError } from '../option-error.js';

/**
 * lighttpd's mod_setenv (1.4.69) as Koa middleware: headers added to or set on the request
 * (PHP sees them as HTTP_*) and on the response, and variables for the backend's environment.
 *
 * Where it is mounted is where lighttpd runs it (its uri_clean hook): a request answered
 * before (a 400 for a broken request, a 403 of an access rule or a redirect mounted in
 * front) gets none of its headers. A request that reaches it gets the response headers on
 * whatever answers it, files, PHP, send-file, 304s and the server's own error pages alike,
 * because they are applied when the head is written (lighttpd's response_start), after the
 * answer's own headers. The one exception is lighttpd's too: a 416 for a Range nothing of
 * the body satisfies is decided after response_start and sent without them.
 *
 * add vs set, as in lighttpd:
 * - add-request-header appends to a header the client sent (`, `; Cookie with `; `).
 * - add-response-header sends one more line when the answer has the header already (PHP's
 *   `X-Frame-Options` and ours are both sent).
 * - add-environment appends to a variable set before (`, `).
 * - the set-* forms replace; an empty value removes the header (the variable is set empty).
 * An empty value for an add-*-header adds nothing.
 *
 * Names are compared without regard to case. Values are text; anything beyond ASCII is sent
 * as UTF-8, as lighttpd sends the bytes of its config file.
 */
export type NameValues = Readonly<Record<string, string>> | ReadonlyArray<readonly [string, string]>;

export interface SetenvOptions {
  /** setenv.add-request-header */
  addRequestHeaders?: NameValues;
  /** setenv.set-request-header ('' removes the client's header) */
  setRequestHeaders?: NameValues;
  /** setenv.add-response-header */
  addResponseHeaders?: NameValues;
  /** setenv.set-response-header ('' removes the header, PHP's own too) */
  setResponseHeaders?: NameValues;
  /** setenv.add-environment: variables for the backend (FastCGI params; `$_SERVER` in PHP). */
  addEnvironment?: NameValues;
  /** setenv.set-environment */
  setEnvironment?: NameValues;
}

type Pairs = ReadonlyArray<readonly [string, string]>;

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** What Node refuses in a header value (and HTTP forbids): control characters but tab. */
const INVALID_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;
/** The message framing is the server's: a configured length would desynchronise the connection. */
const FRAMING = new Set(['content-length', 'transfer-encoding']);

export function setenv(options: SetenvOptions): Middleware {
  const addRequest = headerPairs(options, 'addRequestHeaders');
  const setRequest = headerPairs(options, 'setRequestHeaders');
  const addResponse = headerPairs(options, 'addResponseHeaders');
  const setResponse = headerPairs(options, 'setResponseHeaders');
  const addEnvironment = environmentPairs(options, 'addEnvironment');
  const setEnvironment = environmentPairs(options, 'setEnvironment');
  const changesRequest = addRequest.length + setRequest.length > 0;
  const changesResponse = addResponse.length + setResponse.length > 0;
  const changesEnvironment = addEnvironment.length + setEnvironment.length > 0;

  return function setenvMiddleware(ctx, next) {
    // A request-target lighttpd refuses (400) is refused before its mod_setenv runs.
    const state = requestState(ctx);
    if (changesRequest) editRequestHeaders(ctx.req, addRequest, setRequest);
    if (changesEnvironment) {
      state.environment ??= [];
      const environment = state.environment;
      for (const [name, value] of addEnvironment) appendVariable(environment, name, value);
      for (const [name, value] of setEnvironment) setVariable(environment, name, value);
    }
    if (changesResponse) editResponseHeadersAtHead(ctx, addResponse, setResponse);
    return next();
  };
}

function editRequestHeaders(req: IncomingMessage, add: Pairs, set: Pairs): void {
  for (const [name, value] of add) if (value !== '') appendRequestHeader(req, name, value);
  for (const [name, value] of set) setRequestHeader(req, name, value);
}

/**
 * rawHeaders is what PHP's HTTP_* variables are built from, headers what Koa and the other
 * stages read: both change. The header becomes one line holding every value, where the
 * client's first one was, as lighttpd keeps one entry per header name.
 */
function appendRequestHeader(req: IncomingMessage, name: string, value: string): void {
  const lower = name.toLowerCase();
  const separator = lower === 'cookie' ? '; ' : ', ';
  const raw = req.rawHeaders;
  const values: string[] = [];
  let first = -1;
  for (let i = 0; i + 1 < raw.length; ) {
    if (raw[i]!.toLowerCase() !== lower) {
      i += 2;
      continue;
    }
    if (first < 0) first = i;
    if (raw[i + 1] !== '') values.push(raw[i + 1]!);
    if (i === first) i += 2;
    else raw.splice(i, 2);
  }
  values.push(value);
  const joined = values.join(separator);
  if (first < 0) raw.push(name, joined);
  else raw[first + 1] = joined;
  req.headers[lower] = joined;
}

/** Replaces every line of the header with one (at the first one's place); '' removes them all. */
function setRequestHeader(req: IncomingMessage, name: string, value: string): void {
  const lower = name.toLowerCase();
  const raw = req.rawHeaders;
  let first = -1;
  for (let i = 0; i + 1 < raw.length; ) {
    if (raw[i]!.toLowerCase() !== lower) {
      i += 2;
    } else if (first < 0 && value !== '') {
      first = i;
      raw[i + 1] = value;
      i += 2;
    } else {
      raw.splice(i, 2);
    }
  }
  if (value === '') {
    delete req.headers[lower];
    return;
  }
  if (first < 0) raw.push(name, value);
  req.headers[lower] = value;
}

/**
 * lighttpd's request environment: one entry per name (any case), in the order first set.
 * Adding to a variable set before joins the values with `, `.
 */
export function appendVariable(environment: Array<[string, string]>, name: string, value: string): void {
  const held = findVariable(environment, name);
  if (!held) environment.push([name, value]);
  else held[1] = held[1] === '' ? value : `${held[1]}, ${value}`;
}

function setVariable(environment: Array<[string, string]>, name: string, value: string): void {
  const held = findVariable(environment, name);
  if (!held) environment.push([name, value]);
  else held[1] = value;
}

function findVariable(environment: Array<[string, string]>, name: string): [string, string] | undefined {
  const lower = name.toLowerCase();
  return environment.find(([held]) => held.toLowerCase() === lower);
}

/**
 * The response headers go on when the head is written, whoever writes it: a stage setting
 * ctx.body, one writing to ctx.res, lighttpdErrors rendering a page after this stage returned
 * or threw (respondWithError clears the headers set so far, which would take ours too).
 */
function editResponseHeadersAtHead(ctx: Context, add: Pairs, set: Pairs): void {
  const res = ctx.res;
  const writeHead = res.writeHead;
  res.writeHead = function setenvWriteHead(this: ServerResponse, ...args: unknown[]) {
    if (!isRangeRefusal(ctx, this)) {
      takeHeadersArgument(this, args);
      for (const [name, value] of add) if (value !== '') appendResponseHeader(this, name, value);
      for (const [name, value] of set) {
        if (value === '') this.removeHeader(name);
        else this.setHeader(name, value);
      }
    }
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as ServerResponse['writeHead'];
}

/**
 * lighttpd cuts the Range after its response_start hooks ran, and its 416 page replaces every
 * header (seen: no setenv header on it). Every 416 koa-lighty decides is that page; a
 * backend's own 416 (its body) keeps them, as in lighttpd.
 */
function isRangeRefusal(ctx: Context, res: ServerResponse): boolean {
  return res.statusCode === 416 && ctx.body === errorPageBody(416);
}

/** An existing value stays where it is, ours follows on a line of its own. */
function appendResponseHeader(res: ServerResponse, name: string, value: string): void {
  const held = res.getHeader(name);
  if (held === undefined) res.setHeader(name, value);
  else res.setHeader(name, [...(Array.isArray(held) ? held : [String(held)]), value]);
}

/** Headers handed to writeHead itself join the others first, so add and set see them. */
function takeHeadersArgument(res: ServerResponse, args: unknown[]): void {
  const last = args.length - 1;
  const headers = args[last];
  if (last < 1 || typeof headers !== 'object' || headers === null) return;
  args.pop();
  if (!Array.isArray(headers)) {
    for (const [name, value] of Object.entries(headers)) if (value !== undefined) res.setHeader(name, value);
    return;
  }
  const pairs: unknown[][] = headers.every(Array.isArray)
    ? headers
    : Array.from({ length: headers.length / 2 }, (_, i) => [headers[2 * i], headers[2 * i + 1]]);
  for (const [name, value] of pairs) res.appendHeader(String(name), value as string | string[]);
}

function entries(list: NameValues | undefined): Pairs {
  if (!list) return [];
  return Array.isArray(list) ? (list as Pairs) : Object.entries(list as Record<string, string>);
}

type HeaderOption = 'addRequestHeaders' | 'setRequestHeaders' | 'addResponseHeaders' | 'setResponseHeaders';

/** Checked once: a name Node would refuse, or a value with CR/LF, would fail every request. */
function headerPairs(options: SetenvOptions, option: HeaderOption): Pairs {
  return entries(options[option]).map(([name, value]) => {
    if (!TOKEN.test(name))
      throw new OptionError('ERR_SETENV_HEADER_NAME', option, `${JSON.stringify(name)} is not a header name`);
    if (FRAMING.has(name.toLowerCase()))
      throw new OptionError(
        'ERR_SETENV_FRAMING',
        option,
        `${name} is the server's to send: it frames the message`,
      );
    if (typeof value !== 'string' || INVALID_VALUE.test(value))
      throw new OptionError(
        'ERR_SETENV_HEADER_VALUE',
        option,
        `${name}: a header value is one line of text, without CR, LF or other control characters`,
      );
    return [name, toByteString(value)] as const;
  });
}

function environmentPairs(options: SetenvOptions, option: 'addEnvironment' | 'setEnvironment'): Pairs {
  return entries(options[option]).map(([name, value]) => {
    if (name === '') throw new OptionError('ERR_SETENV_VARIABLE', option, 'a variable needs a name');
    if (typeof value !== 'string')
      throw new OptionError('ERR_SETENV_VARIABLE', option, `${name}: the value must be a string`);
    // FastCGI params are bytes: config text goes out as UTF-8, as lighttpd sends it.
    return [toByteString(name), toByteString(value)] as const;
  });
}
