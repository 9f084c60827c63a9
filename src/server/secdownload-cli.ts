import { parseArgs } from 'node:util';
import { isSecdownloadAlgorithm, SECDOWNLOAD_ALGORITHMS } from '../secdownload/algorithm.js';
import { secdownloadUrl } from '../secdownload/url.js';

export const SECDOWNLOAD_URL_USAGE = `usage: koa-lighty secdownload-url --secret S --uri-prefix /dl/ [options] /rel/path

Prints a signed, expiring link to /rel/path below the secdownload document root.

  --secret S             secdownload.secret (or the SECDOWNLOAD_SECRET environment variable,
                         which keeps it out of the process list)
  --uri-prefix P         secdownload.uri-prefix, e.g. /dl/
  --algorithm A          md5 (default), hmac-sha1 or hmac-sha256: as on the server
  --path-segments N      secdownload.path-segments: sign only the first N segments
  --query Q              add ?Q to the link and sign it (secdownload.hash-querystr)
  --timestamp T          Unix seconds to sign (decimal, or hex as 0x...), instead of now
  --granularity SECONDS  round the timestamp down, so the link stays the same (and cacheable)
                         for that long; keep it below the server's secdownload.timeout`;

export interface CommandIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  env: NodeJS.ProcessEnv;
  /** Milliseconds since the epoch, like Date.now. */
  now: () => number;
}

class UsageError extends Error {}

/** `koa-lighty secdownload-url ARGS` (the arguments after the command name): resolves to the exit code. */
export async function secdownloadUrlCommand(argv: string[], io: Partial<CommandIo> = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  try {
    const parsed = parseCommand(argv, io.env ?? process.env);
    if (parsed === 'help') {
      stdout.write(`${SECDOWNLOAD_URL_USAGE}\n`);
      return 0;
    }
    stdout.write(`${secdownloadUrl({ ...parsed, now: io.now })}\n`);
    return 0;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    stderr.write(`koa-lighty secdownload-url: ${message}\n`);
    if (err instanceof UsageError) stderr.write(`${SECDOWNLOAD_URL_USAGE}\n`);
    return err instanceof UsageError ? 2 : 1;
  }
}

function parseCommand(argv: string[], env: NodeJS.ProcessEnv): Parameters<typeof secdownloadUrl>[0] | 'help' {
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions(argv);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';

  const secret = values.secret ?? env.SECDOWNLOAD_SECRET;
  const missing = [!secret && '--secret', !values['uri-prefix'] && '--uri-prefix'].filter(Boolean);
  if (missing.length > 0) throw new UsageError(`missing ${missing.join(' and ')}`);
  if (positionals.length !== 1) throw new UsageError('give exactly one /rel/path');
  const algorithm = values.algorithm ?? 'md5';
  if (!isSecdownloadAlgorithm(algorithm))
    throw new UsageError(`--algorithm must be one of ${SECDOWNLOAD_ALGORITHMS.join(', ')}, not ${algorithm}`);

  return {
    secret: secret!,
    uriPrefix: values['uri-prefix']!,
    algorithm,
    path: positionals[0]!,
    pathSegments: integerArgument('--path-segments', values['path-segments']),
    query: values.query,
    timestamp: integerArgument('--timestamp', values.timestamp),
    granularity: integerArgument('--granularity', values.granularity),
  };
}

function parseOptions(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      secret: { type: 'string' },
      'uri-prefix': { type: 'string' },
      algorithm: { type: 'string' },
      'path-segments': { type: 'string' },
      query: { type: 'string' },
      timestamp: { type: 'string' },
      granularity: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

const INTEGER = /^(?:\d+|0x[0-9a-f]+)$/i;

function integerArgument(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!INTEGER.test(text) || !Number.isSafeInteger(value))
    throw new UsageError(`${name} must be a non-negative integer, not ${JSON.stringify(text)}`);
  return value;
}
