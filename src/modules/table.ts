/**
 * Every lighttpd module koa-lighty has, in lighttpd's hook order (descriptor.ts); within a
 * hook, server.modules decides at run time. Adding a module is one descriptor file and one
 * line here.
 */
import { CORE_KEYS } from './core.js';
import { coreBandwidth } from './core-bandwidth.js';
import { coreConnection } from './core-connection.js';
import { coreErrorHandler } from './core-error-handler.js';
import { coreRangeRequests } from './core-range-requests.js';
import { coreRequestSize } from './core-request-size.js';
import type { ModuleDescriptor } from './descriptor.js';
import { modAccess } from './mod-access.js';
import { modAccesslog } from './mod-accesslog.js';
import { modAlias } from './mod-alias.js';
import { modAuth } from './mod-auth.js';
import { modAuthnFile } from './mod-authn-file.js';
import { modDeflate } from './mod-deflate.js';
import { modDirlisting } from './mod-dirlisting.js';
import { modEvhost } from './mod-evhost.js';
import { modExpire } from './mod-expire.js';
import { modFastcgi } from './mod-fastcgi.js';
import { modIndexfile } from './mod-indexfile.js';
import { modOpenssl } from './mod-openssl.js';
import { modRedirect } from './mod-redirect.js';
import { modRewrite, modRewriteIfNotFile } from './mod-rewrite.js';
import { modSecdownload } from './mod-secdownload.js';
import { modSetenv } from './mod-setenv.js';
import { modSimpleVhost } from './mod-simple-vhost.js';
import { modStaticfile } from './mod-staticfile.js';
import { modStatus } from './mod-status.js';
import { modTriggerB4Dl } from './mod-trigger-b4-dl.js';

export const MODULES: readonly ModuleDescriptor[] = [
  // request_done (the core's bandwidth limit: outside every other stage but the access log)
  modAccesslog,
  coreBandwidth,
  // response_start (the core's error handling last, innermost of the response side)
  modExpire,
  modDeflate,
  coreErrorHandler,
  // uri_raw (the core's request checks: before any module of the later hooks, as in response.c)
  coreRequestSize,
  coreConnection,
  coreRangeRequests,
  modOpenssl,
  modRewrite,
  // uri_clean
  modAccess,
  modAuth,
  modAuthnFile,
  modRedirect,
  modTriggerB4Dl,
  modSetenv,
  modStatus,
  // docroot
  modSimpleVhost,
  modEvhost,
  // physical
  modAlias,
  modSecdownload,
  modRewriteIfNotFile,
  // subrequest_start
  modFastcgi,
  modIndexfile,
  modDirlisting,
  modStaticfile,
];

/** Options koa-lighty reads; anything else in a config gets one warning at start naming it. */
export const SUPPORTED_OPTIONS: ReadonlySet<string> = new Set([
  ...Object.keys(CORE_KEYS),
  ...MODULES.flatMap((m) => Object.keys(m.keys)),
]);

/** Options whose `regex => target` pairs may use `%n`, the captures of their block's condition. */
export const CONDITION_CAPTURE_KEYS: readonly string[] = MODULES.flatMap((m) => m.conditionCaptureKeys ?? []);

/**
 * Modules koa-lighty has; mod_indexfile and mod_staticfile are always on, as in lighttpd. The
 * core's stages are not modules: server.modules cannot name them.
 */
export const SUPPORTED_MODULES: ReadonlySet<string> = new Set(
  MODULES.filter((m) => !m.core).map((m) => m.name),
);
