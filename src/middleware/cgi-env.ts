import type { Context } from 'koa';
import { joinPath } from '../http/doc-root.js';
import { BadRequestTarget } from '../http/request-path.js';
import { requestState } from '../http/request-state.js';

/**
 * The FCGI_PARAMS of one request, in lighttpd's order (spec 3.3), with the rules of
 * design.md section 6 applied to the request headers:
 *
 * - `Proxy` never becomes HTTP_PROXY (httpoxy: CGI libraries read it as their proxy).
 * - Every header becomes `HTTP_<NAME>`, except Content-Type (CONTENT_TYPE): a client cannot set
 *   SCRIPT_FILENAME, PATH_INFO or any other CGI variable through a header.
 * - Two headers that map to the same variable (`X-Forwarded-For` and `X_Forwarded_For`) are not
 *   both passed. The spelling with only letters, digits and `-` wins, whatever the order: a
 *   proxy in front sets or strips `X-Forwarded-For`, and a client must not get around it with
 *   `X_Forwarded_For`. Among two other spellings the first one sent wins.
 * - `X-Sendfile-Type` and `X-Accel-Mapping` are dropped: frameworks read them to decide to
 *   answer with X-Sendfile, which is the server's decision, never the client's.
 */
export interface CgiParamsOptions {
  /** SCRIPT_NAME: uri.path before the path-info split ('' with fix-root-scriptname). */
  scriptName: string;
  /** PATH_INFO: the rest of uri.path after the script, '' when none. */
  pathInfo: string;
  /** The script's physical path (server document root + scriptName, or what the file step found). */
  scriptFilename: string;
  /** The request's document root (lighttpd's basedir), spelled as configured: a trailing slash shows. */
  documentRoot: string;
  /** The host's `docroot` option: the document root as the (remote) backend sees it. */
  docrootOption?: string;
  /** The host's `strip-request-uri` option. */
  stripRequestUri?: string;
  /** The host's `broken-scriptfilename` option (PHP's cgi.fix_pathinfo wants it). */
  brokenScriptfilename?: boolean;
  /** SERVER_SOFTWARE (server.tag); '' sends it empty. */
  serverTag: string;
  /** server.name; when unset, SERVER_NAME is the Host header without its port. */
  serverName?: string;
  /** Length of the request body that will be sent on STDIN (0 when none). */
  contentLength: number;
}

export type CgiParams = Array<[name: string, value: string]>;

/**
 * Variables holding decoded paths (real Unicode text, to be sent as UTF-8 bytes). The others
 * come from raw request bytes that Node keeps as latin1 strings, and go out byte for byte.
 */
const PATH_VARIABLES = new Set([
  'SCRIPT_NAME',
  'PATH_INFO',
  'PATH_TRANSLATED',
  'SCRIPT_FILENAME',
  'DOCUMENT_ROOT',
]);

/** The params as bytes for the wire: `/café.php` must reach PHP as UTF-8, not as latin1. */
export function cgiParamsForWire(params: CgiParams): Array<[string, string | Buffer]> {
  // ASCII is the same bytes either way: only other text needs its UTF-8 Buffer. The usual
  // all-ASCII list is returned as it is (no second array of 40 pairs per request).
  let wire: Array<[string, string | Buffer]> | undefined;
  for (let i = 0; i < params.length; i++) {
    const [name, value] = params[i]!;
    if (!PATH_VARIABLES.has(name) || isAscii(value)) continue;
    wire ??= params.slice();
    wire[i] = [name, Buffer.from(value, 'utf8')];
  }
  return wire ?? params;
}

function isAscii(s: string): boolean {
  return Buffer.byteLength(s, 'utf8') === s.length;
}

/** Request headers a client must never hand to a backend, by variable name. */
const DROPPED_HEADER_VARIABLES = new Set(['HTTP_PROXY', 'HTTP_X_SENDFILE_TYPE', 'HTTP_X_ACCEL_MAPPING']);
const CONTROL = /[\x00-\x1f\x7f]/;

export function buildCgiParams(ctx: Context, options: CgiParamsOptions): CgiParams {
  const state = requestState(ctx);
  const { scriptName, pathInfo } = options;
  // uri.path was refused with 400 if it held a control character; PATH_INFO comes from it.
  // Asserting it here keeps a `%0a` in PATH_INFO (CVE-2019-11043) impossible whatever the caller did.
  if (CONTROL.test(scriptName) || CONTROL.test(pathInfo))
    throw new BadRequestTarget('control character in SCRIPT_NAME or PATH_INFO');

  const docroot = options.docrootOption ? stripTrailingSlash(options.docrootOption) : undefined;
  const originalTarget = originForm(state.target);
  const socket = ctx.req.socket;
  const secure = ctx.protocol === 'https';

  const params: CgiParams = [
    ['CONTENT_LENGTH', String(options.contentLength)],
    ['QUERY_STRING', state.query],
    ['REQUEST_URI', stripRequestUri(originalTarget, options.stripRequestUri)],
  ];
  // lighttpd's r->target: the normalised, still encoded target, or the rewritten one.
  if (state.encodedTarget !== originalTarget) params.push(['REDIRECT_URI', state.encodedTarget]);
  params.push(['REDIRECT_STATUS', String(state.redirectStatus ?? 200)], ['SCRIPT_NAME', scriptName]);
  if (pathInfo) {
    params.push(
      ['PATH_INFO', pathInfo],
      ['PATH_TRANSLATED', joinPath(docroot ?? options.documentRoot, pathInfo)],
    );
  }
  params.push(
    ['SCRIPT_FILENAME', scriptFilename(options, docroot)],
    ['DOCUMENT_ROOT', docroot ?? options.documentRoot],
    ['REQUEST_METHOD', ctx.method],
    ['SERVER_PROTOCOL', `HTTP/${ctx.req.httpVersion}`],
    ['SERVER_SOFTWARE', options.serverTag],
    ['GATEWAY_INTERFACE', 'CGI/1.1'],
    ['REQUEST_SCHEME', secure ? 'https' : 'http'],
  );
  if (secure) params.push(['HTTPS', 'on']);
  params.push(
    ['SERVER_PORT', String(socket.localPort ?? '')],
    ['SERVER_ADDR', plainAddress(socket.localAddress)],
    // A vhost module's choice wins over server.name, as lighttpd's r->server_name.
    ['SERVER_NAME', serverNameFromHost(state.serverName ?? (options.serverName || ctx.get('Host')))],
    // Behind a proxy Koa was told to trust (app.proxy), the client is X-Forwarded-For's address.
    ['REMOTE_ADDR', ctx.app.proxy ? ctx.ip : plainAddress(socket.remoteAddress)],
    ['REMOTE_PORT', String(socket.remotePort ?? '')],
  );
  for (const pair of headerVariables(ctx.req.rawHeaders)) params.push(pair);
  // mod_auth's, first in lighttpd's request environment (mod_setenv's come after them).
  if (state.remoteUser !== undefined) params.push(['REMOTE_USER', state.remoteUser]);
  if (state.authType !== undefined) params.push(['AUTH_TYPE', state.authType]);
  // The server's own variables (setenv.*-environment) come last; php-cgi keeps the last of
  // two equal names, so they may override any of the above, as in lighttpd.
  for (const [name, value] of state.environment ?? []) params.push([environmentVariableName(name), value]);
  return params;
}

/** lighttpd's name for a request-environment variable: upper-case, non-alphanumerics as `_`. */
export function environmentVariableName(name: string): string {
  return name.replace(/[^A-Za-z0-9]/g, '_').toUpperCase();
}

/**
 * HTTP_* (and CONTENT_TYPE) from the raw header list: repeated headers joined with `, ` at the
 * place of their first occurrence, empty values skipped, the section-6 rules applied.
 */
export function headerVariables(rawHeaders: readonly string[]): CgiParams {
  const byVariable = new Map<string, { name: string; canonical: boolean; values: string[] }>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const value = rawHeaders[i + 1]!;
    if (value === '') continue;
    const known = headerName(name);
    if (known.dropped) continue;
    const { variable, canonical, lower } = known;
    const held = byVariable.get(variable);
    if (!held) {
      byVariable.set(variable, { name: lower, canonical, values: [value] });
    } else if (held.name === lower) {
      held.values.push(value);
    } else if (canonical && !held.canonical) {
      // The plain spelling replaces an odd one that came first; it keeps the first one's place.
      held.name = lower;
      held.canonical = true;
      held.values = [value];
    }
  }
  // Content-Length arrives here as HTTP_CONTENT_LENGTH; CONTENT_LENGTH is the length we send.
  return [...byVariable].map(([variable, { values }]) => [variable, values.join(', ')]);
}

interface HeaderName {
  variable: string;
  lower: string;
  /** Only letters, digits and `-`: the spelling that wins a collision. */
  canonical: boolean;
  dropped: boolean;
}

/** What a header name becomes, worked out once per spelling (clients send the same few). */
const headerNames = new Map<string, HeaderName>();
const MAX_HEADER_NAMES = 1000;

function headerName(name: string): HeaderName {
  let known = headerNames.get(name);
  if (known) return known;
  const variable = headerVariableName(name);
  known = {
    variable,
    lower: name.toLowerCase(),
    canonical: /^[A-Za-z0-9-]+$/.test(name),
    dropped: DROPPED_HEADER_VARIABLES.has(variable),
  };
  if (headerNames.size >= MAX_HEADER_NAMES) headerNames.clear();
  headerNames.set(name, known);
  return known;
}

/** `Content-Type` → CONTENT_TYPE; anything else → HTTP_ + upper-case, non-alphanumerics as `_`. */
export function headerVariableName(headerName: string): string {
  const upper = headerName.toUpperCase().replace(/[^A-Z0-9]/g, '_');
  return headerName.toLowerCase() === 'content-type' ? 'CONTENT_TYPE' : `HTTP_${upper}`;
}

function scriptFilename(options: CgiParamsOptions, docroot: string | undefined): string {
  if (docroot !== undefined) return docroot + options.scriptName;
  // lighttpd appends PATH_INFO as a path: with none, a lone `/` is appended (spec 3.3, seen).
  if (options.brokenScriptfilename) return options.scriptFilename + (options.pathInfo || '/');
  return options.scriptFilename;
}

/** strip-request-uri P: `/P/rest?q` → `/rest?q`; the option's trailing `/` does not count. */
function stripRequestUri(target: string, prefix: string | undefined): string {
  if (!prefix) return target;
  const p = stripTrailingSlash(prefix);
  return p && target.startsWith(`${p}/`) ? target.slice(p.length) : target;
}

/** The request-target without an absolute-form's scheme and authority. */
function originForm(target: string): string {
  if (target.charCodeAt(0) === 0x2f /* / */) return target;
  const absolute = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/.exec(target);
  if (!absolute) return target;
  return target.slice(absolute[0].length) || '/';
}

/** Without a Host (HTTP/1.0) lighttpd passes SERVER_NAME empty (seen), not its own address. */
function serverNameFromHost(host: string): string {
  if (!host) return '';
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    return close >= 0 ? host.slice(0, close + 1) : host;
  }
  const colon = host.indexOf(':');
  return colon >= 0 ? host.slice(0, colon) : host;
}

/** `::ffff:127.0.0.1` (an IPv4 client on a dual-stack socket) is 127.0.0.1 to a CGI script. */
function plainAddress(address: string | undefined): string {
  if (!address) return '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

function stripTrailingSlash(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.replace(/\/+$/, '') : path;
}
