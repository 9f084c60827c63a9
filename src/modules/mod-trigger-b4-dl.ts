import { triggerOptions } from '../config/mapping.js';
import { compilePcre } from '../config/pcre.js';
import { triggerBeforeDownload } from '../middleware/trigger.js';
import { fileStore, memcachedStore, memoryStore } from '../stores/index.js';
import { module } from './descriptor.js';

/** mod_trigger_b4_dl: downloads need a recent visit; the store is shared by every block using it. */
export const modTriggerB4Dl = module({
  name: 'mod_trigger_b4_dl',
  hook: 'uri_clean',
  keys: {
    'trigger-before-download.gdbm-filename': 'string',
    'trigger-before-download.memcache-hosts': 'list',
    'trigger-before-download.memcache-namespace': 'string',
    'trigger-before-download.trigger-url': 'string',
    'trigger-before-download.download-url': 'string',
    'trigger-before-download.deny-url': 'string',
    'trigger-before-download.trigger-timeout': 'integer',
    'trigger-before-download.debug': 'boolean',
    'trigger-before-download.trusted-proxies': 'list',
    'trigger-before-download.memory-store': 'boolean',
  },
  optionKeys: {
    denyUrl: 'trigger-before-download.deny-url',
    timeout: 'trigger-before-download.trigger-timeout',
    trustedProxies: 'trigger-before-download.trusted-proxies',
    store: 'trigger-before-download.memcache-hosts',
  },
  read: (r) => triggerOptions(r),
  stage(spec, build) {
    const store = build.shared('trigger-store', spec.store, () => {
      const s = spec.store;
      const made =
        s.kind === 'memcached'
          ? memcachedStore({ servers: s.servers, namespace: s.namespace })
          : s.kind === 'file'
            ? fileStore(s.path)
            : memoryStore();
      build.onClose(() => made.close());
      return made;
    });
    const made = triggerBeforeDownload({
      ...spec,
      triggerUrl: compilePcre(spec.triggerUrl),
      downloadUrl: compilePcre(spec.downloadUrl),
      store,
      log: build.log,
    });
    build.status?.watchTrigger(made);
    return made;
  },
});
