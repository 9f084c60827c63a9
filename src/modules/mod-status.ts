import { serverTag } from '../config/mapping.js';
import { type ServerStatusOptions, serverStatus } from '../middleware/status.js';
import { module } from './descriptor.js';

/**
 * mod_status: a handler at lighttpd's uri_clean hook, so the access rules (mod_access,
 * mod_auth) and the conditions around the URL apply as to any other request; in a block
 * (`$HTTP["remoteip"] … { status.status-url = … }`) only that block's requests see it.
 */
export const modStatus = module({
  name: 'mod_status',
  hook: 'uri_clean',
  keys: {
    'status.status-url': 'string',
    'status.statistics-url': 'string',
    'status.config-url': 'string',
    'status.enable-sort': 'boolean',
    'status.metrics-url': 'string',
  },
  pure: true,
  read(r): ServerStatusOptions | undefined {
    // An empty URL never equals a request path: lighttpd treats it as unset.
    const url = (key: string) => r.string(key) || undefined;
    const urls = {
      statusUrl: url('status.status-url'),
      statisticsUrl: url('status.statistics-url'),
      configUrl: url('status.config-url'),
      metricsUrl: url('status.metrics-url'),
    };
    if (!Object.values(urls).some(Boolean)) return undefined;
    return {
      ...urls,
      enableSort: r.bool('status.enable-sort', true),
      serverTag: serverTag(r),
      modules: r.list('server.modules'),
    };
  },
  stage: (options, build) => serverStatus({ ...options, registry: build.status }),
});
