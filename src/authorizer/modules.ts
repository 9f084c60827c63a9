/**
 * The modules an authorizer runs: the protection stages of the conf and nothing that serves
 * (no files, no FastCGI, no rewrites: the front server routes and serves). Each keeps its
 * lighttpd name, so server.modules still decides which run and in what order.
 */
import type { ModuleDescriptor } from '../modules/descriptor.js';
import { modAccess } from '../modules/mod-access.js';
import { modAuth } from '../modules/mod-auth.js';
import { modAuthnFile } from '../modules/mod-authn-file.js';
import { modSecdownload } from '../modules/mod-secdownload.js';
import { modTriggerB4Dl } from '../modules/mod-trigger-b4-dl.js';
import type { SecdownloadOptions } from '../secdownload/options.js';
import { secdownloadCheck } from './secdownload-check.js';

/** mod_secdownload's keys and checks, with a stage that judges the link and sends nothing. */
const modSecdownloadCheck: ModuleDescriptor = {
  ...modSecdownload,
  stage: (options, { log }) => secdownloadCheck({ ...(options as SecdownloadOptions), log }),
};

export const AUTHORIZER_MODULES: readonly ModuleDescriptor[] = [
  modAccess,
  modAuth,
  modAuthnFile,
  modTriggerB4Dl,
  modSecdownloadCheck,
];
