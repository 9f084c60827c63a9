/**
 * koa-lighty's public API: the stages as Koa middleware, the stores, the link generator, and
 * the lighttpd.conf front end. Re-exports only.
 */

export type { BackendName } from './auth/backends.js';
export { ConfigError } from './config/errors.js';
export { UnsupportedRegex } from './config/pcre.js';
export {
  BadCgiResponse,
  ClosedBeforeHeaders,
  ClosedBeforeResponse,
  ClosedMidResponse,
  ConnectFailed,
  ConnectTimeout,
  FastCgiError,
  NoBackendAvailable,
  PoolClosed,
  ProtocolError,
  QueueTimeout,
  ReadTimeout,
  RequestAborted,
  RequestBodyFailed,
  RequestRejected,
  WriteTimeout,
} from './fastcgi/errors.js';
export { BadHost } from './http/authority.js';
export { ByteBudget } from './http/bandwidth.js';
export { type ConnectionLimits, LIGHTTPD_CONNECTION_LIMITS } from './http/connection-limits.js';
export { FileError } from './http/file-info.js';
export { FileShrunkError } from './http/file-stream.js';
export { RequestTooLarge } from './http/limits.js';
export { DEFAULT_MIME_ASSIGN, MimeTypes } from './http/mime.js';
export { BadRequestTarget } from './http/request-path.js';
export { type RequestState, requestState } from './http/request-state.js';
export { SpoolFailed } from './http/spool.js';
export { defaultLogger, type Logger, memoryLogger, streamLogger } from './log.js';
export { type AccessDenyOptions, accessDeny } from './middleware/access.js';
export { alias } from './middleware/alias.js';
export {
  type AuthMethod,
  type AuthOptions,
  type AuthRule,
  authRequire,
  type BasicAuthOptions,
  basicAuth,
  type DigestAuthOptions,
  digestAuth,
} from './middleware/auth.js';
export { type BandwidthOptions, bandwidth } from './middleware/bandwidth.js';
export { type CompressOptions, compress, DEFAULT_COMPRESS_MIMETYPES } from './middleware/compress.js';
export { type ConnectionLimitsOptions, connectionLimits } from './middleware/connection-limits.js';
export { type DirListingOptions, dirListing } from './middleware/dir-listing.js';
export { type ErrorHandlerOptions, errorHandler } from './middleware/error-handler.js';
export { afterErrorPage, lighttpdErrors } from './middleware/errors.js';
export { type EvhostOptions, evhost } from './middleware/evhost.js';
export { type ExpiresOptions, expires, parseExpireExpression } from './middleware/expire.js';
export {
  type FastCgiHost,
  type FastCgiKey,
  type FastCgiMiddleware,
  type FastCgiOptions,
  fastcgi,
} from './middleware/fastcgi.js';
export { noRangeRequests } from './middleware/range-requests.js';
export { type RedirectOptions, redirect } from './middleware/redirect.js';
export { BadRequestHead, requestHead } from './middleware/request-head.js';
export { type RequestSizeLimitOptions, requestSizeLimit } from './middleware/request-size.js';
export { stripInternalHeaders } from './middleware/response-filter.js';
export { type RewriteOptions, type RewriteRule, type RewriteRules, rewrite } from './middleware/rewrite.js';
export { RewriteFailed } from './middleware/rewrite-rules.js';
export {
  type SecdownloadMiddleware,
  type SecdownloadOptions,
  secdownload,
} from './middleware/secdownload.js';
export { type NameValues, type SetenvOptions, setenv } from './middleware/setenv.js';
export { type SimpleVhostOptions, simpleVhost } from './middleware/simple-vhost.js';
export { type SslEnvironmentOptions, sslEnvironment } from './middleware/ssl-env.js';
export { resolveRequestFile, type StaticFilesOptions, staticFiles } from './middleware/static.js';
export {
  type ServerStatusOptions,
  StatusRegistry,
  type StatusSnapshot,
  serverStatus,
} from './middleware/status.js';
export { type TriggerOptions, triggerBeforeDownload } from './middleware/trigger.js';
export { OptionError } from './option-error.js';
export { type SecdownloadUrlOptions, secdownloadUrl } from './secdownload/url.js';
export { type AccessLogMiddleware, type AccessLogOptions, accessLog } from './server/access-log.js';
export { createApp, type LightyApp, type LoadedConfig, loadConfig } from './server/app.js';
export { type CreateServerOptions, createServer } from './server/create-server.js';
export { createHttpServer, type HttpServerOptions } from './server/http-server.js';
export { alpnProtocols, type Http2Settings } from './server/http2-server.js';
export { StoreDeadlineExceeded } from './stores/deadline.js';
export { fileStore, memcachedStore, memoryStore, type TriggerStore } from './stores/index.js';
