import type { OptionReader } from './option-reader.js';

/**
 * index-file.names, or its old name server.indexfiles, which lighttpd 1.4.69 still reads as
 * the same option (Alpine's stock lighttpd.conf uses it). Set both, the one set later counts.
 */
export function indexFileNames(r: OptionReader): string[] {
  if (!r.has('server.indexfiles')) return r.list('index-file.names');
  if (!r.has('index-file.names')) return r.list('server.indexfiles');
  const [now, old] = [r.where('index-file.names'), r.where('server.indexfiles')];
  return old.file === now.file && old.line > now.line
    ? r.list('server.indexfiles')
    : r.list('index-file.names');
}
