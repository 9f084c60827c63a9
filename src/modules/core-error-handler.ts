import { errorHandler } from '../middleware/error-handler.js';
import { module } from './descriptor.js';

/**
 * lighttpd's core error handling (response.c): server.error-handler, server.error-handler-404
 * and server.errorfile-prefix. It acts on the answer once the request-side stages are done,
 * before any response-side module sees it, so it comes last in the last response-side hook
 * (the table keeps it last there); its handler pass runs the request side again through the
 * server's dispatch, with the conditions evaluated for the handler's URI.
 */
export const coreErrorHandler = module({
  name: 'server.error-handler',
  hook: 'response_start',
  builtIn: true,
  core: true,
  keys: {
    'server.error-handler': 'string',
    'server.error-handler-404': 'string',
    'server.errorfile-prefix': 'string',
  },
  read(r) {
    // lighttpd treats an empty string as unset.
    const handler = r.string('server.error-handler') || undefined;
    const handler404 = r.string('server.error-handler-404') || undefined;
    const errorfilePrefix = r.string('server.errorfile-prefix') || undefined;
    return handler || handler404 || errorfilePrefix ? { handler, handler404, errorfilePrefix } : undefined;
  },
  stage: (options, { mimeTypes, log, dispatch }) => errorHandler({ ...options, mimeTypes, log, dispatch }),
});
