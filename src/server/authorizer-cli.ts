import { parseArgs } from 'node:util';
import {
  AddressError,
  describeEndpoint,
  type EndpointAddress,
  parseEndpointAddress,
} from '../authorizer/endpoints.js';

export const AUTHORIZER_USAGE = `usage: koa-lighty authorizer -f lighttpd.conf [--fastcgi ADDRESS] [--http ADDRESS] [options]

Answers, for a front server, whether a request may pass: the access rules, mod_auth,
trigger-before-download and secdownload of the conf decide; nothing is served. Allowed is
200 with an empty body; refused is koa-lighty's own answer (403, 410, 401, the trigger's 307).

  -f FILE               the lighttpd.conf
  --fastcgi ADDRESS     FastCGI authorizer (lighttpd "mode" => "authorizer"): host:port or /unix/path
  --http ADDRESS        plain HTTP for nginx auth_request: host:port or /unix/path
  --uri-header NAME     (http) the header naming the original request-target, e.g. X-Original-URI
  --address-header NAME (http) the header naming the client's address, e.g. X-Real-IP; only
                        for a front server that always sets it
  --nginx               (http) refusals nginx auth_request cannot pass (307, 410…) as 401 with
                        X-Koa-Lighty-Status: STATUS, for the nginx conf to turn back (README)
  -h, --help            print this help

A bare port means 127.0.0.1. At least one of --fastcgi and --http.`;

class UsageError extends Error {}

interface AuthorizerArgs {
  configFile: string;
  fastcgi?: EndpointAddress;
  http?: EndpointAddress;
  uriHeader?: string;
  addressHeader?: string;
  nginx: boolean;
}

/** `koa-lighty authorizer ARGS`: resolves to the exit code once it is stopped (SIGINT, SIGTERM). */
export async function authorizerCommand(argv: string[]): Promise<number> {
  let args: AuthorizerArgs | 'help';
  try {
    args = parseCommand(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`koa-lighty authorizer: ${err.message}\n${AUTHORIZER_USAGE}`);
    return 2;
  }
  if (args === 'help') {
    console.log(AUTHORIZER_USAGE);
    return 0;
  }
  const { loadConfig } = await import('./app.js');
  const { startAuthorizer } = await import('../authorizer/start.js');
  const loaded = loadConfig(args.configFile);
  const running = await startAuthorizer(loaded, args);
  for (const warning of loaded.warnings) running.log.warn('config', warning);
  const where = [
    args.fastcgi && `fastcgi ${describeEndpoint(args.fastcgi)}`,
    args.http && `http ${describeEndpoint(args.http)}`,
  ].filter(Boolean);
  console.log(`koa-lighty authorizer listening on ${where.join(', ')} (${args.configFile})`);
  return new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      running.log.info('authorizer', `${signal}: shutting down`);
      running.close().finally(() => {
        resolve(0);
        // Timers of the stores (memcached) would keep the process alive.
        setImmediate(() => process.exit(0));
      });
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}

function parseCommand(argv: string[]): AuthorizerArgs | 'help' {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        f: { type: 'string', short: 'f' },
        fastcgi: { type: 'string' },
        http: { type: 'string' },
        'uri-header': { type: 'string' },
        'address-header': { type: 'string' },
        nginx: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return 'help';
  const text = (name: string) => values[name] as string | undefined;
  const configFile = text('f');
  if (!configFile) throw new UsageError('-f lighttpd.conf is missing');
  if (!text('fastcgi') && !text('http'))
    throw new UsageError('give --fastcgi ADDRESS, --http ADDRESS or both');
  const address = (name: string) => {
    const value = text(name);
    if (value === undefined) return undefined;
    try {
      return parseEndpointAddress(value);
    } catch (err) {
      if (err instanceof AddressError) throw new UsageError(`--${name}: ${err.message}`);
      throw err;
    }
  };
  return {
    configFile,
    fastcgi: address('fastcgi'),
    http: address('http'),
    uriHeader: text('uri-header'),
    addressHeader: text('address-header'),
    nginx: values.nginx === true,
  };
}
