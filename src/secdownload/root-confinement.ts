import { realPath } from '../http/real-path.js';

/**
 * Whether a file really lies inside a directory once symlinks are resolved. lighttpd followed
 * any symlink in the secdownload document root wherever it led; koa-lighty refuses those that
 * lead outside it (a deliberate hardening), while symlinks that stay inside keep working.
 *
 * Both paths are resolved through the one-second realpath cache (../http/real-path.ts), so a
 * busy download costs one realpath(3) a second, not one a request.
 */
export class RootConfinement {
  readonly #root: string;

  /** @param root absolute directory, without trailing slash ('' for `/`) */
  constructor(root: string) {
    this.#root = root;
  }

  async contains(path: string): Promise<boolean> {
    let root: string;
    let real: string;
    try {
      // The root may itself be reached through a symlink, or not exist yet (a mount not there at start).
      [root, real] = await Promise.all([realPath(this.#root || '/'), realPath(path)]);
    } catch {
      return false;
    }
    const base = root.endsWith('/') ? root : `${root}/`;
    return real === root || real.startsWith(base);
  }
}
