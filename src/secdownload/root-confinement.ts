import { realpath } from 'node:fs/promises';

/**
 * Whether a file really lies inside a directory once symlinks are resolved. lighttpd followed
 * any symlink in the secdownload document root wherever it led; koa-lighty refuses those that
 * lead outside it (a deliberate hardening), while symlinks that stay inside keep working.
 *
 * Answers are trusted for one second, like the stat cache in file-info.ts, so a busy download
 * costs one realpath(3) a second, not one a request.
 */
export class RootConfinement {
  readonly #root: string;
  #realRoot: Promise<string> | undefined;
  readonly #known = new Map<string, { at: number; inside: boolean }>();

  /** @param root absolute directory, without trailing slash ('' for `/`) */
  constructor(root: string) {
    this.#root = root;
  }

  async contains(path: string): Promise<boolean> {
    const now = Date.now();
    const held = this.#known.get(path);
    if (held && now - held.at < TRUST_MS) return held.inside;
    const inside = await this.#check(path);
    if (this.#known.size >= MAX_ENTRIES) this.#known.clear();
    this.#known.set(path, { at: now, inside });
    return inside;
  }

  async #check(path: string): Promise<boolean> {
    let root: string;
    let real: string;
    try {
      [root, real] = await Promise.all([this.#resolvedRoot(), realpath(path)]);
    } catch {
      return false;
    }
    const base = root.endsWith('/') ? root : `${root}/`;
    return real === root || real.startsWith(base);
  }

  /** The root's own realpath, looked up once (it may itself be reached through a symlink). */
  #resolvedRoot(): Promise<string> {
    if (!this.#realRoot) {
      const lookup = realpath(this.#root || '/');
      // A root that does not exist yet (a mount not there at start) is looked up again next time.
      lookup.catch(() => {
        if (this.#realRoot === lookup) this.#realRoot = undefined;
      });
      this.#realRoot = lookup;
    }
    return this.#realRoot;
  }
}

const TRUST_MS = 1000;
const MAX_ENTRIES = 10_000;
