import { backendAddresses } from '../backends/backend.js';
import { fastcgiHostWarnings } from '../config/fastcgi-server.js';
import { fastcgiOptions } from '../config/mapping.js';
import { uploadDirsWarnings } from '../config/upload-dirs.js';
import { type FastCgiKey, fastcgi } from '../middleware/fastcgi.js';
import { module } from './descriptor.js';

/**
 * mod_fastcgi: fastcgi.server. Building the stage starts nothing; ready() spawns the bin-path
 * programs, so the front end builds it for every block at load time to report its warnings.
 */
export const modFastcgi = module({
  name: 'mod_fastcgi',
  hook: 'subrequest_start',
  keys: {
    'fastcgi.server': 'array',
    'fastcgi.balance': 'string',
    'fastcgi.map-extensions': 'pairs',
    'fastcgi.debug': 'integer',
  },
  pure: true,
  read: (r) => fastcgiOptions(r),
  warnings: (r) => [...fastcgiHostWarnings(r), ...uploadDirsWarnings(r)],
  optionKeys: {
    streamResponseBody: 'server.stream-response-body',
    uploadDirs: 'server.upload-dirs',
  },
  stage(options, build) {
    const backends = build.worker ? connectOnly(options.backends) : options.backends;
    const made = fastcgi({
      ...options,
      backends,
      mimeTypes: build.mimeTypes,
      log: build.log,
      workerShare: build.worker,
      // Blocks whose options differ build their own stage, but one address is one php-cgi.
      sharedBackends: build.shared('fastcgi-backends', 'all', () => new Map()),
      // SIGUSR1: the previous app's, seeded by the server's life cycle (server/lifecycle.ts).
      previousBackends: build.shared('fastcgi-previous-backends', 'all', () => new Map()),
    });
    build.status?.watchFastcgi(made.targets);
    build.onReady(() => made.ready());
    build.onClose(() => made.close());
    return made;
  },
});

/**
 * A worker's view of fastcgi.server: the primary spawns and supervises php-cgi, so each
 * bin-path host becomes the addresses its processes listen on (socket-N, port+N), reached
 * like any remote backend.
 */
function connectOnly(keys: FastCgiKey[]): FastCgiKey[] {
  return keys.map(({ key, hosts }) => ({
    key,
    hosts: hosts.flatMap((host) => {
      if (!host.binPath) return [host];
      const {
        binPath: _spawned,
        binEnvironment: _env,
        binCopyEnvironment: _copy,
        maxProcs: _procs,
        ...rest
      } = host;
      return backendAddresses(host).map((address) =>
        'socket' in address
          ? { ...rest, host: undefined, port: undefined, socket: address.socket }
          : { ...rest, socket: undefined, ...address },
      );
    }),
  }));
}
