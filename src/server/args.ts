/** The command line of `koa-lighty` (design.md section 3), parsed without a dependency. */
export interface ServerArgs {
  configFile?: string;
  test: boolean;
  print: boolean;
  workers: number;
  help: boolean;
  version: boolean;
  /** -V: the version and the features, in the lines `lighttpd -V` prints. */
  features: boolean;
}

export class UsageError extends Error {}

export const USAGE = `usage: koa-lighty [-f lighttpd.conf] [-D] [-t | -p] [--workers N]
       koa-lighty secdownload-url --secret S --uri-prefix /dl/ [options] /rel/path
       koa-lighty authorizer -f lighttpd.conf [--fastcgi ADDRESS] [--http ADDRESS]

  -f FILE        run a server from this lighttpd.conf (without -f: the bundled demo site)
  -D             stay in the foreground (accepted for lighttpd users; always the case)
  -t, -tt        check the configuration and exit (0 when it is good)
  -p             print the effective configuration as JSON and exit
  --workers N    run N processes sharing the port (node:cluster)
  -v, --version  print the version
  -V             print the version and the features (as lighttpd -V)
  -h, --help     print this help

  secdownload-url prints a signed link; run \`koa-lighty secdownload-url --help\`.
  authorizer answers a front server (nginx auth_request, lighttpd's FastCGI authorizer)
  with the conf's access, auth, trigger and secdownload rules; see \`koa-lighty authorizer --help\`.`;

export function parseServerArgs(argv: string[]): ServerArgs {
  const args: ServerArgs = {
    test: false,
    print: false,
    workers: 1,
    help: false,
    version: false,
    features: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const next = argv[++i];
      if (next === undefined) throw new UsageError(`${arg} needs a value`);
      return next;
    };
    if (arg === '-f') args.configFile = value();
    else if (arg.startsWith('-f') && arg.length > 2) args.configFile = arg.slice(2);
    else if (arg === '-D') continue;
    else if (arg === '-t' || arg === '-tt') args.test = true;
    else if (arg === '-p') args.print = true;
    else if (arg === '--workers' || arg.startsWith('--workers=')) {
      const raw = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : value();
      const n = Number(raw);
      if (!Number.isInteger(n) || n < 1 || n > 256)
        throw new UsageError(`--workers needs a whole number from 1 to 256, not ${raw}`);
      args.workers = n;
    } else if (arg === '-h' || arg === '--help') args.help = true;
    else if (arg === '-v' || arg === '--version') args.version = true;
    else if (arg === '-V') args.version = args.features = true;
    else throw new UsageError(`unknown argument ${arg}`);
  }
  return args;
}
