/**
 * Link timestamps: Unix seconds written as at least 8 lower-case hex digits, which is what
 * the lighttpd wiki's PHP (`sprintf("%08x", time())`) produces.
 */
export function formatTimestamp(seconds: number): string {
  if (!Number.isSafeInteger(seconds) || seconds < 0)
    throw new Error(
      `secdownload: timestamp must be a non-negative integer number of seconds, not ${seconds}`,
    );
  return seconds.toString(16).padStart(8, '0');
}

/**
 * Rounds down to a multiple of `granularity` seconds, so every link made within that window is
 * the same URL and can be cached by browsers and proxies. The link then lives between
 * timeout − granularity and timeout seconds, so the server's timeout must exceed the granularity.
 */
export function roundDown(seconds: number, granularity: number): number {
  if (!Number.isSafeInteger(granularity) || granularity < 1)
    throw new Error(
      `secdownload: granularity must be a positive integer number of seconds, not ${granularity}`,
    );
  return seconds - (seconds % granularity);
}
