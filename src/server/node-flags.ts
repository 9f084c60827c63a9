/**
 * The V8 flags every koa-lighty server process runs with: the bin's shebang, `npm start`,
 * the workers of --workers (forked with them) and the benchmark all use this list, and a test
 * holds the shebang and the start script to it.
 *
 * --max-semi-space-size=8: Node's young generation grows to 2 × 16 MiB under load and keeps
 * it; per-request garbage dies young either way, so 2 × 8 MiB costs no measurable rate
 * (hello.php, 4 alternating runs each: 10.6 k vs 10.4 k req/s, within the noise) and takes
 * 15 MiB off the peak RSS of every workload (132 → 117 MiB under hello.php). V8 reads it only
 * at start-up: v8.setFlagsFromString() later has no effect.
 *
 * --expose-gc: large bodies (uploads, long PHP output) ask for a minor GC every 8 MiB, which
 * frees the buffers their socket reads made (src/http/body-garbage.ts).
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8', '--expose-gc'];

/** `execArgv` with NODE_FLAGS added, except those the user already set a value for. */
export function withNodeFlags(execArgv: readonly string[]): string[] {
  const named = (flag: string) => flag.split('=')[0]!.replace(/_/g, '-');
  const given = new Set(execArgv.map(named));
  return [...execArgv, ...NODE_FLAGS.filter((flag) => !given.has(named(flag)))];
}
