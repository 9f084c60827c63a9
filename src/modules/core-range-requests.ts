import { noRangeRequests } from '../middleware/range-requests.js';
import { module } from './descriptor.js';

/** server.range-requests (default enabled; in blocks too, as lighttpd's own tests use it). */
export const coreRangeRequests = module({
  name: 'server.range-requests',
  hook: 'uri_raw',
  core: true,
  keys: { 'server.range-requests': 'boolean' },
  pure: true,
  read: (r) => (r.bool('server.range-requests', true) ? undefined : {}),
  stage: () => noRangeRequests(),
});
