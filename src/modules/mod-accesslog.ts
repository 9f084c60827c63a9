import { accessLog } from '../server/access-log.js';
import { module } from './descriptor.js';

/** mod_accesslog: one line per request once its response has finished; one stream per file. */
export const modAccesslog = module({
  name: 'mod_accesslog',
  hook: 'request_done',
  keys: { 'accesslog.filename': 'string' },
  read: (r) => r.string('accesslog.filename') || undefined,
  stage: (file, build) => build.shared('accesslog', file, () => accessLog(file)),
});
