import { module } from './descriptor.js';

/**
 * mod_indexfile: index-file.names (and its old name server.indexfiles), read by the file
 * step of mod_fastcgi and mod_staticfile.
 */
export const modIndexfile = module({
  name: 'mod_indexfile',
  hook: 'subrequest_start',
  builtIn: true,
  keys: { 'index-file.names': 'list', 'server.indexfiles': 'list' },
  read: () => undefined,
});
