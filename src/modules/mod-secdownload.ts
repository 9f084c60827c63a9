import { secdownloadOptions } from '../config/mapping.js';
import { secdownload } from '../middleware/secdownload.js';
import { module } from './descriptor.js';

/** mod_secdownload: /prefix/<mac>/<hex time>/<path> links (lighttpd's physical hook). */
export const modSecdownload = module({
  name: 'mod_secdownload',
  hook: 'physical',
  keys: {
    'secdownload.secret': 'string',
    'secdownload.document-root': 'string',
    'secdownload.uri-prefix': 'string',
    'secdownload.timeout': 'integer',
    'secdownload.algorithm': 'string',
    'secdownload.path-segments': 'integer',
    'secdownload.hash-querystr': 'boolean',
  },
  pure: true,
  optionKeys: {
    secret: 'secdownload.secret',
    documentRoot: 'secdownload.document-root',
    uriPrefix: 'secdownload.uri-prefix',
    timeout: 'secdownload.timeout',
    algorithm: 'secdownload.algorithm',
    pathSegments: 'secdownload.path-segments',
  },
  read: (r) => secdownloadOptions(r),
  stage(options, { mimeTypes, log, status }) {
    const made = secdownload({ ...options, mimeTypes, log });
    status?.watchSecdownload(made.counts);
    return made;
  },
});
