/**
 * mimetype.assign, resolved as lighttpd does (spec 6): suffixes compare case-insensitively;
 * with fewer than 16 entries the first matching entry in config order wins; with 16 or more,
 * the exact basename, then the longest `.a.b` extension, then the `""` entry.
 */
export const OCTET_STREAM = 'application/octet-stream';

export type MimeAssign = ReadonlyArray<readonly [suffix: string, type: string]>;

export class MimeTypes {
  readonly #ordered: MimeAssign;
  readonly #bySuffix = new Map<string, string>();
  readonly #cache = new Map<string, string | undefined>();

  constructor(assign: MimeAssign) {
    this.#ordered = assign.map(([suffix, type]) => [suffix.toLowerCase(), type] as const);
    for (const [suffix, type] of this.#ordered)
      if (!this.#bySuffix.has(suffix)) this.#bySuffix.set(suffix, type);
  }

  /** The configured type for a file name, or undefined when nothing matches (octet-stream). */
  lookup(fileName: string): string | undefined {
    const slash = fileName.lastIndexOf('/');
    const base = (slash >= 0 ? fileName.slice(slash + 1) : fileName).toLowerCase();
    if (this.#cache.has(base)) return this.#cache.get(base);
    const type = this.#ordered.length < 16 ? this.#firstMatch(base) : this.#bestMatch(base);
    if (this.#cache.size > 4096) this.#cache.clear();
    this.#cache.set(base, type);
    return type;
  }

  #firstMatch(base: string): string | undefined {
    for (const [suffix, type] of this.#ordered) if (base.endsWith(suffix)) return type;
    return undefined;
  }

  #bestMatch(base: string): string | undefined {
    const exact = this.#bySuffix.get(base);
    if (exact !== undefined) return exact;
    for (let dot = base.indexOf('.'); dot >= 0; dot = base.indexOf('.', dot + 1)) {
      const type = this.#bySuffix.get(base.slice(dot));
      if (type !== undefined) return type;
    }
    return this.#bySuffix.get('');
  }
}

/** The types a Koa user gets without a mimetype.assign (lighttpd 1.4.71+ ships similar defaults). */
export const DEFAULT_MIME_ASSIGN: MimeAssign = [
  ['.html', 'text/html'],
  ['.htm', 'text/html'],
  ['.txt', 'text/plain;charset=utf-8'],
  ['.css', 'text/css;charset=utf-8'],
  ['.js', 'text/javascript;charset=utf-8'],
  ['.mjs', 'text/javascript;charset=utf-8'],
  ['.json', 'application/json'],
  ['.xml', 'application/xml'],
  ['.svg', 'image/svg+xml'],
  ['.png', 'image/png'],
  ['.jpg', 'image/jpeg'],
  ['.jpeg', 'image/jpeg'],
  ['.gif', 'image/gif'],
  ['.webp', 'image/webp'],
  ['.ico', 'image/x-icon'],
  ['.pdf', 'application/pdf'],
  ['.zip', 'application/zip'],
  ['.gz', 'application/gzip'],
  ['.tar', 'application/x-tar'],
  ['.mp3', 'audio/mpeg'],
  ['.mp4', 'video/mp4'],
  ['.mpeg', 'video/mpeg'],
  ['.mpg', 'video/mpeg'],
  ['.wmv', 'video/x-ms-wmv'],
  ['.webm', 'video/webm'],
  ['.woff2', 'font/woff2'],
  ['.wasm', 'application/wasm'],
];
