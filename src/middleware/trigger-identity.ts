import { BlockList, isIP } from 'node:net';

/**
 * Who a client is, for trigger-before-download: the address its trigger and downloads are
 * remembered under.
 *
 * lighttpd took the raw X-Forwarded-For header from anyone, so any client could choose its
 * identity (spec 4.2). Here the header is believed only from trusted proxies (design.md 7).
 */

/** The addresses whose X-Forwarded-For is believed. */
export class TrustedProxies {
  private readonly list = new BlockList();
  private readonly empty: boolean;

  /** `entries`: addresses or CIDR ranges, IPv4 or IPv6 ('10.0.0.0/8', '::1', 'fd00::/8'). */
  constructor(entries: readonly string[] = []) {
    this.empty = entries.length === 0;
    for (const entry of entries) this.add(entry);
  }

  has(address: string): boolean {
    if (this.empty) return false;
    const family = isIP(address);
    if (family === 0) return false;
    return this.list.check(address, family === 4 ? 'ipv4' : 'ipv6');
  }

  private add(entry: string): void {
    const [text, prefixText, extra] = entry.trim().split('/');
    const address = unmapIpv4(text ?? '');
    const family = isIP(address);
    if (family === 0 || extra !== undefined)
      throw new TypeError(`trusted proxy "${entry}" is not an address or CIDR`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (prefixText === undefined) {
      this.list.addAddress(address, type);
      return;
    }
    const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : Number.NaN;
    if (!(prefix >= 0 && prefix <= (family === 4 ? 32 : 128))) {
      throw new TypeError(`trusted proxy "${entry}" has a bad prefix length`);
    }
    this.list.addSubnet(address, prefix, type);
  }
}

export interface IdentityOptions {
  trustedProxies: TrustedProxies;
  /** Key IPv6 clients by their /64: one household or host usually owns a whole /64. */
  ipv6Prefix64: boolean;
}

/**
 * The identity of a request: its peer address; or, when the peer is a trusted proxy, the
 * right-most X-Forwarded-For address that is not itself a trusted proxy. Addresses further
 * left were written by the client and are never looked at. A token that is not an address
 * (say "unknown") ends the walk at the last trusted hop, for the same reason.
 *
 * `forwardedFor` is every X-Forwarded-For header, joined with ',' (Node joins repeats).
 */
export function clientIdentity(
  peerAddress: string | undefined,
  forwardedFor: string | undefined,
  options: IdentityOptions,
): string {
  let identity = canonicalAddress(peerAddress ?? '') ?? peerAddress ?? '';
  if (forwardedFor !== undefined && options.trustedProxies.has(identity)) {
    const hops = forwardedFor.split(',');
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i]!.trim();
      if (hop === '') continue;
      const address = canonicalAddress(stripPort(hop));
      if (address === undefined) break;
      identity = address;
      if (!options.trustedProxies.has(address)) break;
    }
  }
  return options.ipv6Prefix64 && isIP(identity) === 6 ? ipv6Prefix64(identity) : identity;
}

/**
 * One text per address, so that '::ffff:10.1.2.3' (a dual-stack socket's view of an IPv4
 * peer) and '10.1.2.3' are one client, and IPv6 spellings collapse to the RFC 5952 form.
 * Undefined when `text` is not an IP address.
 */
export function canonicalAddress(text: string): string | undefined {
  const address = unmapIpv4(text.split('%')[0]!);
  const family = isIP(address);
  if (family === 4) return address;
  if (family !== 6) return undefined;
  const groups = ipv6Groups(address);
  // ::ffff:a.b.c.d written in hex (::ffff:a0b:c0d) is still an IPv4 client.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return [groups[6]! >> 8, groups[6]! & 255, groups[7]! >> 8, groups[7]! & 255].join('.');
  }
  return formatIpv6(groups);
}

/** '2001:db8:1:2:3:4:5:6' → '2001:db8:1:2::/64'. */
export function ipv6Prefix64(address: string): string {
  const groups = ipv6Groups(address);
  return `${formatIpv6([...groups.slice(0, 4), 0, 0, 0, 0])}/64`;
}

function unmapIpv4(text: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(text);
  return mapped ? mapped[1]! : text;
}

/** Proxies that append the client's port: '192.0.2.1:51234', '[2001:db8::1]:443'. */
function stripPort(hop: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(hop);
  if (bracketed) return bracketed[1]!;
  const v4WithPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(hop);
  return v4WithPort ? v4WithPort[1]! : hop;
}

/** The eight 16-bit groups of a valid IPv6 address (WHATWG URL does the parsing). */
function ipv6Groups(address: string): number[] {
  const canonical = new URL(`http://[${address}]/`).hostname.slice(1, -1);
  const [head, tail] = canonical.split('::');
  const parse = (part: string | undefined) =>
    part ? part.split(':').map((g) => Number.parseInt(g, 16)) : [];
  const left = parse(head);
  if (tail === undefined) return left;
  const right = parse(tail);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}

function formatIpv6(groups: readonly number[]): string {
  return new URL(`http://[${groups.map((g) => g.toString(16)).join(':')}]/`).hostname.slice(1, -1);
}
