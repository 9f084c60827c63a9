import type { OptionType } from './descriptor.js';

/**
 * The keys of lighttpd's core (server.c, configfile.c) koa-lighty reads: where it listens,
 * who it runs as, what every stage shares. Modules' keys are in their descriptors.
 */
export const CORE_KEYS: Readonly<Record<string, OptionType>> = {
  'server.document-root': 'string',
  'server.port': 'integer',
  'server.bind': 'string',
  'server.tag': 'string',
  'server.errorlog': 'string',
  'server.pid-file': 'string',
  'server.username': 'string',
  'server.groupname': 'string',
  'server.modules': 'list',
  'server.follow-symlink': 'boolean',
  'server.force-lowercase-filenames': 'boolean',
  'server.name': 'string',
  'server.max-request-field-size': 'integer',
  // Read once for the whole server (config/mapping.ts serverSettings), as lighttpd does.
  'server.max-connections': 'integer',
  'server.max-fds': 'integer',
  // lighttpd's choice of write(2)/sendfile(2) and of epoll/poll: Node's libuv makes those, so
  // they mean nothing here. Accepted without a word, but a name lighttpd does not know is
  // refused at start as lighttpd refuses it.
  'server.network-backend': 'string',
  'server.event-handler': 'string',
  'server.systemd-socket-activation': 'boolean',
  // "server.h2proto" and "server.h2c" are read (config/mapping.ts http2Settings); any other
  // flag is named in a warning.
  'server.feature-flags': 'array',
  // Read where the FastCGI stage is built (config/fastcgi-server.ts): only it spools bodies.
  'server.upload-dirs': 'list',
  'server.stream-response-body': 'integer',
  'mimetype.assign': 'pairs',
  // Always what koa-lighty does: the request-target is normalised the way these ask for.
  'server.http-parseopts': 'array',
};
