/**
 * lighttpd's stored value: the Unix time as 8 raw bytes, the native int64 of x86-64, i.e.
 * little-endian (seen in memcached; gdbm since 1.4.60). Written the same way here so either
 * server can read what the other stored.
 */
export function encodeTime(time: number): Buffer {
  const value = Buffer.alloc(8);
  value.writeBigInt64LE(BigInt(Math.trunc(time)));
  return value;
}

/**
 * The time in a stored value, or undefined when it is neither 8 bytes nor the 4-byte time_t
 * that gdbm files from lighttpd before 1.4.60 hold (lighttpd still accepted those).
 */
export function decodeTime(value: Uint8Array): number | undefined {
  const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (bytes.length === 8) return Number(bytes.readBigInt64LE());
  if (bytes.length === 4) return bytes.readInt32LE();
  return undefined;
}
