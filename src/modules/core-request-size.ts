import { requestSizeLimit } from '../middleware/request-size.js';
import { module } from './descriptor.js';

/**
 * server.max-request-size (KiB, in blocks too): lighttpd checks it once the request's config
 * is known and before any module runs (response.c), so the stage is the core's, first of the
 * first request-side hook.
 */
export const coreRequestSize = module({
  name: 'server.max-request-size',
  hook: 'uri_raw',
  core: true,
  keys: { 'server.max-request-size': 'integer' },
  pure: true,
  optionKeys: { maxKBytes: 'server.max-request-size' },
  read(r) {
    const maxKBytes = r.int('server.max-request-size', 0, { min: 0, max: 0xffff_ffff });
    return maxKBytes > 0 ? { maxKBytes } : undefined;
  },
  stage: (options, { log }) => requestSizeLimit({ ...options, log }),
});
