import { staticOptions } from '../config/mapping.js';
import type { OptionReader } from '../config/option-reader.js';
import { serverTag } from '../config/server-tag.js';
import { ConfigArray, toInt } from '../config/values.js';
import { type DirListingOptions, dirListing } from '../middleware/dir-listing.js';
import { module } from './descriptor.js';

/**
 * mod_dirlisting. lighttpd 1.4.69 loads it by itself, after the listed modules and before
 * mod_staticfile, once dir-listing.activate (or its old name server.dir-listing) is enabled in
 * any block, so it is built in here and does nothing where the option set leaves it off.
 */
export const modDirlisting = module({
  name: 'mod_dirlisting',
  hook: 'subrequest_start',
  builtIn: true,
  keys: {
    'dir-listing.activate': 'boolean',
    'server.dir-listing': 'boolean',
    'dir-listing.hide-dotfiles': 'boolean',
    'dir-listing.exclude': 'list',
    'dir-listing.show-readme': 'string',
    'dir-listing.hide-readme-file': 'boolean',
    'dir-listing.encode-readme': 'boolean',
    'dir-listing.show-header': 'string',
    'dir-listing.hide-header-file': 'boolean',
    'dir-listing.encode-header': 'boolean',
    'dir-listing.external-css': 'string',
    'dir-listing.external-js': 'string',
    'dir-listing.set-footer': 'string',
    'dir-listing.encoding': 'string',
    'dir-listing.auto-layout': 'boolean',
    'dir-listing.cache': 'pairs',
    // lighttpd 1.4.74's; 1.4.69 ignores it without a word (see warnings).
    'dir-listing.sort': 'string',
  },
  pure: true,
  optionKeys: { exclude: 'dir-listing.exclude', cache: 'dir-listing.cache' },
  read(r): DirListingOptions | undefined {
    // Every key is read (and so checked) whether or not listings are on in this scope.
    const options = listingOptions(r);
    return activated(r) ? options : undefined;
  },
  warnings(r) {
    const lines: string[] = [];
    if (r.has('dir-listing.sort')) {
      const at = r.where('dir-listing.sort');
      lines.push(
        `${at.file}:${at.line}: dir-listing.sort: lighttpd 1.4.69 has no such option (it came in 1.4.74) and ignores it; listings are always sorted by name`,
      );
    }
    const cache = r.raw('dir-listing.cache');
    if (cache instanceof ConfigArray) {
      const at = r.where('dir-listing.cache');
      for (const name of cache.keys())
        if (name !== 'path' && name !== 'max-age')
          lines.push(
            `${at.file}:${at.line}: dir-listing.cache: "${name}" is not an entry lighttpd reads (only "path" and "max-age"); ignored`,
          );
    }
    return lines;
  },
  stage: (options, { mimeTypes, log }) => dirListing({ ...options, mimeTypes, log }),
});

/**
 * dir-listing.activate, or server.dir-listing, which lighttpd 1.4.69 still reads as the same
 * option. Both set: the one set later counts (inside one block lighttpd lets
 * server.dir-listing win whatever the order; blocks are not told apart here).
 */
function activated(r: OptionReader): boolean {
  if (!r.has('server.dir-listing')) return r.bool('dir-listing.activate', false);
  if (!r.has('dir-listing.activate')) return r.bool('server.dir-listing', false);
  const [now, old] = [r.where('dir-listing.activate'), r.where('server.dir-listing')];
  return old.file === now.file && old.line > now.line
    ? r.bool('server.dir-listing', false)
    : r.bool('dir-listing.activate', false);
}

function listingOptions(r: OptionReader): DirListingOptions {
  const { documentRoot, indexFiles, followSymlink, forceLowercaseFilenames } = staticOptions(r);
  const footer = nonBlank(r.string('dir-listing.set-footer')) ?? (serverTag(r) || undefined);
  r.string('dir-listing.sort'); // read for its type check only (see warnings)
  return {
    documentRoot,
    indexFiles,
    followSymlink,
    forceLowercaseFilenames,
    hideDotfiles: r.bool('dir-listing.hide-dotfiles', true),
    exclude: r.list('dir-listing.exclude'),
    showReadme: includedName(r.string('dir-listing.show-readme'), 'README.txt'),
    hideReadmeFile: r.bool('dir-listing.hide-readme-file', false),
    encodeReadme: r.bool('dir-listing.encode-readme', true),
    showHeader: includedName(r.string('dir-listing.show-header'), 'HEADER.txt'),
    hideHeaderFile: r.bool('dir-listing.hide-header-file', false),
    encodeHeader: r.bool('dir-listing.encode-header', true),
    externalCss: nonBlank(r.string('dir-listing.external-css')),
    externalJs: nonBlank(r.string('dir-listing.external-js')),
    footer,
    encoding: nonBlank(r.string('dir-listing.encoding')),
    autoLayout: r.bool('dir-listing.auto-layout', true),
    cache: cacheOption(r),
  };
}

/** lighttpd treats a value of only blanks as unset. */
function nonBlank(value: string | undefined): string | undefined {
  return value === undefined || /^[ \t\r\n]*$/.test(value) ? undefined : value;
}

/**
 * show-readme / show-header: "enable" is the default name. "disable" is kept as the empty
 * name, which lighttpd 1.4.69 then opens as the listed directory itself (includes.ts), so
 * the page matches its bytes.
 */
function includedName(value: string | undefined, enabled: string): string | undefined {
  const name = nonBlank(value);
  if (name === 'enable') return enabled;
  if (name === 'disable') return '';
  return name;
}

/** `( "path" => "/var/cache/lighttpd/dirlist", "max-age" => 15 )`. */
function cacheOption(r: OptionReader): DirListingOptions['cache'] {
  const key = 'dir-listing.cache';
  const value = r.raw(key);
  if (value === undefined) return undefined;
  if (!(value instanceof ConfigArray) || !value.isKeyed)
    throw r.error(key, 'expected ( "path" => "…", "max-age" => seconds )');
  const path = value.get('path');
  if (path !== undefined && typeof path !== 'string') throw r.error(key, '"path" must have string value');
  const age = value.get('max-age');
  const maxAge = age === undefined ? 15 : toInt(age, r.where(key));
  return { path: path ?? '', maxAge };
}
