/**
 * koa-lighty's public API: the stages as Koa middleware, the stores, the link generator, and
 * the lighttpd.conf front end. Re-exports only.
 */
export { accessDeny, type AccessDenyOptions } from './middleware/access.js';
export { alias } from './middleware/alias.js';
export { lighttpdErrors } from './middleware/errors.js';
export { fastcgi, type FastCgiHost, type FastCgiKey, type FastCgiMiddleware, type FastCgiOptions } from './middleware/fastcgi.js';
export { redirect, type RedirectOptions } from './middleware/redirect.js';
export { stripInternalHeaders } from './middleware/response-filter.js';
export { secdownload, type SecdownloadOptions } from './middleware/secdownload.js';
export { staticFiles, type StaticFilesOptions, resolveRequestFile } from './middleware/static.js';
export { triggerBeforeDownload, type TriggerOptions } from './middleware/trigger.js';
export { secdownloadUrl, type SecdownloadUrlOptions } from './secdownload/url.js';
export { fileStore, memcachedStore, memoryStore, type TriggerStore } from './stores/index.js';
export { DEFAULT_MIME_ASSIGN, MimeTypes } from './http/mime.js';
export { requestState, type RequestState } from './http/request-state.js';
export { defaultLogger, type Logger, memoryLogger, streamLogger } from './log.js';
export { ConfigError } from './config/errors.js';
export { createApp, type LightyApp, type LoadedConfig, loadConfig } from './server/app.js';
