import { cgiAssignWarning, staticOptions } from '../config/mapping.js';
import { staticFiles } from '../middleware/static.js';
import { module } from './descriptor.js';

/** mod_staticfile: the file step and the files themselves; always loaded, always last. */
export const modStaticfile = module({
  name: 'mod_staticfile',
  hook: 'subrequest_start',
  builtIn: true,
  keys: { 'static-file.exclude-extensions': 'list', 'static-file.disable-pathinfo': 'boolean' },
  pure: true,
  read: (r) => staticOptions(r),
  // cgi.assign is mod_cgi's; koa-lighty has no mod_cgi, so the static step denies those files.
  warnings: (r) => {
    const line = cgiAssignWarning(r);
    return line ? [line] : [];
  },
  stage: (options, { mimeTypes, log }) => staticFiles({ ...options, mimeTypes, log }),
});
