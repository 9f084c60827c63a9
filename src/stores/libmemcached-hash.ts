/**
 * Which server of a memcached cluster holds a key, chosen exactly as libmemcached does by
 * default (as lighttpd 1.4.63 configured it: `--SERVER=h:p …` and nothing else): the
 * one-at-a-time hash of the key (hashkit_one_at_a_time), modulo the number of servers, in
 * the order they were listed. With the same server list, koa-lighty and lighttpd then look
 * for a client's entry on the same server. (Read from libmemcached's source; memjs's own
 * choice, a Java-style string hash, would scatter the keys differently.)
 */
export function libmemcachedServerIndex(key: string, serverCount: number): number {
  if (serverCount <= 1) return 0;
  return oneAtATime(Buffer.from(key, 'utf8')) % serverCount;
}

/** Bob Jenkins's one-at-a-time hash, as libhashkit computes it (exported for its test vectors). */
export function oneAtATime(bytes: Uint8Array): number {
  let value = 0;
  for (const byte of bytes) {
    // libmemcached reads the key as (signed) char: bytes ≥ 0x80 are sign-extended.
    value = (value + (byte >= 0x80 ? byte - 0x100 : byte)) >>> 0;
    value = (value + (value << 10)) >>> 0;
    value = (value ^ (value >>> 6)) >>> 0;
  }
  value = (value + (value << 3)) >>> 0;
  value = (value ^ (value >>> 11)) >>> 0;
  value = (value + (value << 15)) >>> 0;
  return value;
}
