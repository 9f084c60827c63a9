/**
 * lighttpd.conf → the sockets to listen on (network.c of 1.4.69): every
 * `$SERVER["socket"] == "ip:port"` block is one, and server.bind/server.port another unless a
 * block already names that address (the block's options win, as they overlay the global
 * ones). A listener with ssl.engine gets its TLS settings and the certificates that
 * `$HTTP["host"]` blocks choose by SNI.
 */
import { ConfigError } from '../config/errors.js';
import { lineage } from '../config/evaluate.js';
import type { Facts } from '../config/facts.js';
import type { ServerSettings } from '../config/mapping.js';
import type { ConditionBlock, Config } from '../config/model.js';
import type { OptionReader } from '../config/option-reader.js';
import {
  type CertificateSettings,
  readCertificateSettings,
  readTlsSettings,
  type TlsSettings,
  tlsEnabled,
} from '../tls/settings.js';
import type { ListenAddress } from './listen.js';

/** A certificate chosen by the name the client asks for (SNI). */
export interface SniCertificate {
  /** Whether the block's conditions hold for this server name. */
  matches(serverName: string): boolean;
  settings: CertificateSettings;
}

export interface ListenerTls {
  settings: TlsSettings;
  sni: SniCertificate[];
}

export interface Listener {
  /** The socket as `$SERVER["socket"]` conditions see it: as written in the config. */
  token: string;
  address: ListenAddress;
  tls?: ListenerTls;
}

export function configListeners(
  config: Config,
  server: ServerSettings,
  readerFor: (ids: number[]) => OptionReader,
): { listeners: Listener[]; warnings: string[] } {
  const global = readerFor([]);
  const warnings = checkScopes(config, readerFor);
  const listeners: Listener[] = [];
  const add = (token: string, address: ListenAddress, r: OptionReader) => {
    if (listeners.some((l) => sameAddress(l.address, address))) return;
    listeners.push({
      token,
      address,
      tls: tlsEnabled(r) ? listenerTls(config, token, r, readerFor) : undefined,
    });
  };
  for (const block of config.blocks) {
    const condition = block.condition;
    if (condition?.field !== 'socket' || condition.op !== '==') continue;
    add(condition.pattern, parseSocket(condition.pattern, server, block), readerFor(lineage(block)));
  }
  const bind = global.string('server.bind') ?? '';
  const mainToken =
    server.listen && 'path' in server.listen ? bind : `${bind}:${global.int('server.port', 80)}`;
  // server.bind/server.port comes first (what a start-up line names first); a block for the
  // same address is that listener, with the block's options.
  const same = listeners.findIndex((l) => sameAddress(l.address, server.listen));
  if (same >= 0) listeners.unshift(...listeners.splice(same, 1));
  else {
    add(mainToken, server.listen, global);
    listeners.unshift(listeners.pop()!);
  }
  if (listeners.some((l) => l.tls)) warnings.push(...unusedSniCertificates(config));
  return { listeners, warnings };
}

/** Asked for during the handshake: only the socket's scope can decide them. */
const SOCKET_SCOPE_KEYS = [
  'ssl.verifyclient.activate',
  'ssl.verifyclient.enforce',
  'ssl.verifyclient.depth',
  'ssl.verifyclient.ca-file',
  'ssl.ca-file',
];

/** Options of the socket's scope only, as lighttpd ignores them elsewhere. */
const SOCKET_ONLY_KEYS = ['ssl.engine', 'ssl.cipher-list', 'ssl.openssl.ssl-conf-cmd'];

/**
 * What a block other than `$SERVER["socket"]` cannot change. node:tls asks for a client
 * certificate per server, not per name: a `$HTTP["host"]` block that asks for one, or
 * enforces it, is refused (letting it pass would let clients in without the certificate the
 * config demands). The socket's own options there are ignored with lighttpd's warning.
 */
function checkScopes(config: Config, readerFor: (ids: number[]) => OptionReader): string[] {
  const warnings: string[] = [];
  for (const block of config.blocks) {
    if (block.condition?.field === 'socket') continue;
    const key = SOCKET_SCOPE_KEYS.find((k) => block.options.has(k));
    if (key)
      throw readerFor(lineage(block)).error(
        key,
        'client certificates are asked for per socket in koa-lighty (node:tls): set ssl.verifyclient.* and ssl.ca-file globally or in a $SERVER["socket"] block',
      );
    for (const ignored of SOCKET_ONLY_KEYS.filter((k) => block.options.has(k))) {
      const at = block.sources.get(ignored)!;
      warnings.push(
        `${at.file}:${at.line}: ${ignored} is valid only in global scope or a $SERVER["socket"] block (ignored here, as by lighttpd)`,
      );
    }
  }
  return warnings;
}

/** A `$HTTP["host"]` certificate under conditions the handshake cannot know is never chosen. */
function unusedSniCertificates(config: Config): string[] {
  return config.blocks
    .filter((block) => block.condition?.field === 'host' && block.options.has('ssl.pemfile'))
    .filter((block) => !handshakeKnows(block))
    .map((block) => {
      const at = block.sources.get('ssl.pemfile')!;
      return `${at.file}:${at.line}: ssl.pemfile: this block's conditions are not known during the TLS handshake (only $SERVER["socket"], $HTTP["scheme"] and $HTTP["host"] are): its certificate is never chosen`;
    });
}

function handshakeKnows(block: ConditionBlock): boolean {
  for (let b: ConditionBlock | undefined = block; b; b = b.parent) {
    const field = b.condition?.field;
    if (field !== 'socket' && field !== 'host' && field !== 'scheme') return false;
  }
  return true;
}

/** `":443"`, `"127.0.0.1:443"`, `"[::1]:443"`, `"/run/sock"`, `"[::]"` (server.port's). */
export function parseSocket(token: string, server: ServerSettings, block: ConditionBlock): ListenAddress {
  const bad = (why: string) =>
    new ConfigError(`$SERVER["socket"] == "${token}": ${why}`, block.location.file, block.location.line);
  if (token === '') throw bad('must not be empty');
  if (token.startsWith('/')) return { path: token };
  let host: string;
  let portText: string | undefined;
  const v6 = /^\[([^\]]*)\](?::(.*))?$/.exec(token);
  if (v6) {
    host = v6[1] || '::';
    portText = v6[2];
  } else if (token.indexOf(':') !== token.lastIndexOf(':')) {
    throw bad('an IPv6 address is written in brackets: "[::1]:443"');
  } else {
    const colon = token.indexOf(':');
    host = colon < 0 ? token : token.slice(0, colon);
    portText = colon < 0 ? undefined : token.slice(colon + 1);
    host ||= '0.0.0.0';
  }
  const fallback = 'port' in server.listen ? server.listen.port : 80;
  const port = portText === undefined ? fallback : Number(portText);
  if (!/^\d*$/.test(portText ?? '') || !(port >= 0 && port <= 65535))
    throw bad(`port ${portText} is not a port`);
  return { host, port };
}

function sameAddress(a: ListenAddress, b: ListenAddress): boolean {
  if ('fd' in a || 'fd' in b) return false;
  if ('path' in a || 'path' in b) return 'path' in a && 'path' in b && a.path === b.path;
  const any = (h: string) => (h === '' || h === '0.0.0.0' ? '0.0.0.0' : h);
  return a.port === b.port && any(a.host) === any(b.host);
}

function listenerTls(
  config: Config,
  token: string,
  r: OptionReader,
  readerFor: (ids: number[]) => OptionReader,
): ListenerTls {
  const settings = readTlsSettings(r);
  const sni: SniCertificate[] = [];
  for (const block of config.blocks) {
    if (block.condition?.field !== 'host' || !block.options.has('ssl.pemfile')) continue;
    const chain: ConditionBlock[] = [];
    for (let b: ConditionBlock | undefined = block; b; b = b.parent) chain.unshift(b);
    // Only what is known during the handshake decides: the socket, the scheme and the name.
    if (!handshakeKnows(block)) continue;
    const hostReader = readerFor(lineage(block));
    const own = readCertificateSettings(hostReader);
    const cert: CertificateSettings = {
      ...settings,
      pemFile: own.pemFile,
      keyFile: own.keyFile,
      reader: hostReader,
    };
    sni.push({
      matches: (serverName) => {
        const facts = handshakeFacts(serverName.toLowerCase(), token);
        return chain.every((b) => b.condition!.test(facts));
      },
      settings: cert,
    });
  }
  return { settings, sni };
}

/** What a condition can know of a connection during the TLS handshake. */
function handshakeFacts(host: string, token: string): Facts {
  return {
    url: '',
    host,
    referer: undefined,
    useragent: undefined,
    cookie: undefined,
    language: undefined,
    remoteip: '',
    querystring: '',
    requestMethod: '',
    scheme: 'https',
    serverSocket: token,
    header: () => undefined,
  };
}
