/**
 * The V8 flags every koa-lighty server process runs with: the bin's shebang, `npm start`,
 * the workers of --workers (forked with them) and the benchmark all use this list, and a test
 * holds the shebang and the start script to it.
 *
 * --expose-gc: large bodies (uploads, long PHP output) ask for a minor GC every 8 MiB, which
 * frees the buffers their socket reads made (src/http/body-garbage.ts).
 *
 * Tried and left out: --max-semi-space-size=8 (a young generation of 2 × 8 MiB instead of
 * Node's 2 × 16) took 12-15 MiB off every peak but cost 5-7 % more CPU per request in
 * alternating runs (more scavenges); with the minor GCs above the peaks stay near 130 MiB
 * without it. V8 reads such flags only at start-up: v8.setFlagsFromString() later has no
 * effect, hence this list.
 */
export const NODE_FLAGS: readonly string[] = ['--expose-gc'];

/** `execArgv` with NODE_FLAGS added, except those the user already set a value for. */
export function withNodeFlags(execArgv: readonly string[]): string[] {
  const named = (flag: string) => flag.split('=')[0]!.replace(/_/g, '-');
  const given = new Set(execArgv.map(named));
  return [...execArgv, ...NODE_FLAGS.filter((flag) => !given.has(named(flag)))];
}
