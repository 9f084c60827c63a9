import { connectionLimitsOf, CONNECTION_LIMIT_KEYS as KEYS } from '../config/server-limits.js';
import { connectionLimits } from '../middleware/connection-limits.js';
import { module } from './descriptor.js';

/**
 * The four connection limits of a request's config (lighttpd reads them per request, so
 * blocks may set them). The server applies the global values itself (createHttpServer, before
 * any request is known); where an option set names one, this stage applies that set's values.
 */
export const coreConnection = module({
  name: 'server.connection-limits',
  hook: 'uri_raw',
  core: true,
  keys: Object.fromEntries(Object.values(KEYS).map((key) => [key, 'integer' as const])),
  pure: true,
  optionKeys: KEYS,
  read(r) {
    if (!Object.values(KEYS).some((key) => r.has(key))) return undefined;
    return connectionLimitsOf(r);
  },
  stage: (limits) => connectionLimits(limits),
});
