/**
 * IP literals for `$HTTP["remoteip"] == "…"`: IPv4 or IPv6 (with or without `[]`), with an
 * optional `/bits` CIDR mask. Parsed once at config time into bytes, so a request only
 * parses its own address.
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface IpNetwork {
  /** 4 bytes for IPv4, 16 for IPv6. */
  readonly bytes: Uint8Array;
  /** Prefix length; the full length for a single address. */
  readonly bits: number;
}

/** Parses `a.b.c.d`, `a.b.c.d/n`, `::1`, `[::1]`, `2001:db8::/32`; undefined when invalid. */
export function parseIpNetwork(text: string): IpNetwork | undefined {
  const slash = text.indexOf('/');
  let address = slash >= 0 ? text.slice(0, slash) : text;
  if (address.startsWith('[') && address.endsWith(']')) address = address.slice(1, -1);
  const bytes = parseIpAddress(address);
  if (!bytes) return undefined;
  const max = bytes.length * 8;
  if (slash < 0) return { bytes, bits: max };
  const mask = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(mask)) return undefined;
  const bits = Number(mask);
  if (bits < 1 || bits > max) return undefined;
  return { bytes, bits };
}

/** The bytes of an IPv4 or IPv6 address; undefined for anything else (zone ids included). */
export function parseIpAddress(address: string): Uint8Array | undefined {
  if (isIPv4(address)) return Uint8Array.from(address.split('.').map(Number));
  if (!isIPv6(address) || address.includes('%')) return undefined;
  return ipv6Bytes(address);
}

function ipv6Bytes(address: string): Uint8Array {
  let text = address;
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  const last = text.slice(lastColon + 1);
  if (last.includes('.')) {
    // embedded IPv4 (::ffff:1.2.3.4): two groups' worth of bytes
    tail.push(...last.split('.').map(Number));
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const groups = (part: string) => (part === '' ? [] : part.split(':').map((g) => Number.parseInt(g, 16)));
  const left = groups(head);
  const right = rest === undefined ? [] : groups(rest);
  const all = [...left, ...new Array(8 - left.length - right.length).fill(0), ...right];
  const bytes = new Uint8Array(16);
  all.forEach((g, i) => {
    bytes[i * 2] = g >> 8;
    bytes[i * 2 + 1] = g & 0xff;
  });
  if (tail.length === 4) bytes.set(tail, 12);
  return bytes;
}

/**
 * Whether `address` lies in `network`. An IPv4-mapped IPv6 address (`::ffff:1.2.3.4`, what a
 * dual-stack Node socket reports) is compared as the IPv4 address it carries, and the other
 * way round, as lighttpd's sock_addr_is_addr_eq_bits does.
 */
export function ipInNetwork(address: Uint8Array, network: IpNetwork): boolean {
  let subject = address;
  let target = network.bytes;
  let bits = network.bits;
  if (subject.length !== target.length) {
    if (subject.length === 16 && isV4Mapped(subject)) subject = subject.subarray(12);
    else if (target.length === 16 && isV4Mapped(target) && bits >= 96) {
      target = target.subarray(12);
      bits -= 96;
    } else return false;
    if (subject.length !== target.length) return false;
  }
  const whole = bits >> 3;
  for (let i = 0; i < whole; i++) if (subject[i] !== target[i]) return false;
  const rest = bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (subject[whole]! & mask) === (target[whole]! & mask);
}

function isV4Mapped(bytes: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}
