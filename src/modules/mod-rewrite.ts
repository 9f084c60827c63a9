import { fastcgiOptions } from '../config/mapping.js';
import type { OptionReader } from '../config/option-reader.js';
import { requestComeback } from '../http/request-state.js';
import { compileRewriteRules } from '../middleware/rewrite-rules.js';
import { type RewriteStageOptions, rewriteStage } from '../middleware/rewrite-stage.js';
import { module } from './descriptor.js';

/**
 * mod_rewrite. lighttpd gives it two handlers, so it has two descriptors: the URL rules in
 * uri_raw (before every uri_clean module, whatever server.modules says), the if-not-file rules
 * in physical. In each, the lists of one scope apply: those of the last matching block (or the
 * global scope) that sets any of the hook's keys, the "once" ones first, as lighttpd merges
 * them (a block's url.rewrite-repeat replaces a global url.rewrite-once).
 */
const URL_KEYS = {
  once: ['url.rewrite-once', 'url.rewrite-final', 'url.rewrite'],
  repeat: ['url.rewrite-repeat'],
};
const FILE_KEYS = { once: ['url.rewrite-if-not-file'], repeat: ['url.rewrite-repeat-if-not-file'] };

export const modRewrite = module({
  name: 'mod_rewrite',
  hook: 'uri_raw',
  keys: Object.fromEntries([...URL_KEYS.once, ...URL_KEYS.repeat].map((key) => [key, 'pairs' as const])),
  pure: true,
  conditionCaptureKeys: [...URL_KEYS.once, ...URL_KEYS.repeat],
  optionKeys: { once: 'url.rewrite-once', repeat: 'url.rewrite-repeat' },
  read: (r) => scopeLists(r, URL_KEYS, 'url'),
  stage: (options) => rewriteStage(options, requestComeback),
});

export const modRewriteIfNotFile = module({
  name: 'mod_rewrite',
  hook: 'physical',
  keys: Object.fromEntries([...FILE_KEYS.once, ...FILE_KEYS.repeat].map((key) => [key, 'pairs' as const])),
  pure: true,
  conditionCaptureKeys: [...FILE_KEYS.once, ...FILE_KEYS.repeat],
  optionKeys: { once: 'url.rewrite-if-not-file', repeat: 'url.rewrite-repeat-if-not-file' },
  read(r): RewriteStageOptions | undefined {
    const lists = scopeLists(r, FILE_KEYS, 'file');
    if (!lists) return undefined;
    const fastcgi = r.list('server.modules').includes('mod_fastcgi') ? fastcgiOptions(r) : undefined;
    return {
      ...lists,
      documentRoot: r.string('server.document-root') ?? '/',
      forceLowercaseFilenames: r.bool('server.force-lowercase-filenames', false),
      fastcgiKeys: fastcgi?.backends.map(({ key, hosts }) => ({
        key,
        checkLocal: hosts[0]?.checkLocal !== false,
      })),
      mapExtensions: Object.entries(fastcgi?.mapExtensions ?? {}),
    };
  },
  stage: (options) => rewriteStage(options, requestComeback),
});

function scopeLists(
  r: OptionReader,
  keys: { once: string[]; repeat: string[] },
  phase: 'url' | 'file',
): RewriteStageOptions | undefined {
  const set = [...keys.once, ...keys.repeat].filter((key) => r.has(key));
  if (set.length === 0) return undefined;
  const blockOf = (key: string) => r.where(key).block ?? 0;
  const block = Math.max(...set.map(blockOf));
  const inScope = set.filter((key) => blockOf(key) === block);
  const rules = (names: string[]) =>
    names
      .filter((key) => inScope.includes(key))
      .flatMap((key) => {
        const pairs = r.pairs(key);
        try {
          compileRewriteRules(pairs);
        } catch (error) {
          throw r.error(key, (error as Error).message);
        }
        return pairs;
      });
  const once = rules(keys.once);
  const repeat = rules(keys.repeat);
  if (once.length + repeat.length === 0) return undefined;
  const at = r.where(inScope[0]!);
  return { phase, once, repeat, block, where: `${at.file}:${at.line}` };
}
