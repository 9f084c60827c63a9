/** One memcached server of `trigger-before-download.memcache-hosts`. */
export interface MemcachedAddress {
  host: string;
  port: number;
}

const DEFAULT_PORT = 11211;

/**
 * Parses "host:port", "host" (port 11211), "[v6]:port" and a bare IPv6 address. Throws on
 * anything else, so a typo stops the server at start rather than failing every download.
 */
export function parseMemcachedServer(text: string): MemcachedAddress {
  const spec = text.trim();
  const bracketed = /^\[([0-9A-Fa-f:.]+)\](?::(\d+))?$/.exec(spec);
  if (bracketed) return { host: bracketed[1]!, port: port(bracketed[2], text) };
  // Two or more colons without brackets: a bare IPv6 address, which cannot carry a port.
  if ((spec.match(/:/g) ?? []).length > 1) return { host: spec, port: DEFAULT_PORT };
  const plain = /^([^\s:[\]]+)(?::(\d+))?$/.exec(spec);
  if (plain) return { host: plain[1]!, port: port(plain[2], text) };
  throw new TypeError(`memcached server "${text}" is not "host:port"`);
}

function port(digits: string | undefined, text: string): number {
  if (digits === undefined) return DEFAULT_PORT;
  const value = Number(digits);
  if (value < 1 || value > 65535) throw new TypeError(`memcached server "${text}" has a bad port`);
  return value;
}
