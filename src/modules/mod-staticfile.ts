import { staticOptions } from '../config/mapping.js';
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
  stage: (options, { mimeTypes, log }) => staticFiles({ ...options, mimeTypes, log }),
});
