import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * auth.cache: successful logins remembered for `max-age` seconds (default 600), so that the
 * user file is not read and the hash not computed on every request. As in lighttpd, what is
 * remembered decides while it lasts: a user removed from the file, or whose password changed,
 * keeps the old access until the entry expires. Unlike lighttpd, which keeps a Basic
 * password itself in memory, only a keyed hash of it is kept (HMAC-SHA-256 with a key made at
 * start), and compared in constant time.
 */
export interface CachedDigest {
  /** H(user:realm:password) for the entry's algorithm. */
  digest: Buffer;
  /** The user name (for a userhash lookup, the name the hash stood for). */
  user: string;
}

interface Entry<T> {
  at: number;
  value: T;
}

export class AuthCache {
  readonly #key = randomBytes(32);
  readonly #basic = new WeakMap<object, Map<string, Entry<Buffer>>>();
  readonly #digest = new WeakMap<object, Map<string, Entry<CachedDigest>>>();

  constructor(
    /** Seconds an entry is trusted. */
    readonly maxAge: number,
    private readonly now: () => number = () => Date.now() / 1000,
  ) {}

  /** undefined: not cached (ask the backend); else whether the password is the cached one. */
  basic(rule: object, user: string, password: Buffer): boolean | undefined {
    const entry = this.#fresh(this.#basic, rule, user);
    if (!entry) return undefined;
    return timingSafeEqual(entry.value, this.#mac(password));
  }

  rememberBasic(rule: object, user: string, password: Buffer): void {
    this.#store(this.#basic, rule, user, this.#mac(password));
  }

  digest(rule: object, key: string): CachedDigest | undefined {
    return this.#fresh(this.#digest, rule, key)?.value;
  }

  rememberDigest(rule: object, key: string, value: CachedDigest): void {
    this.#store(this.#digest, rule, key, value);
  }

  #mac(password: Buffer): Buffer {
    return createHmac('sha256', this.#key).update(password).digest();
  }

  #fresh<T>(maps: WeakMap<object, Map<string, Entry<T>>>, rule: object, key: string): Entry<T> | undefined {
    const map = maps.get(rule);
    const entry = map?.get(key);
    if (!entry) return undefined;
    if (this.now() - entry.at > this.maxAge) {
      map!.delete(key);
      return undefined;
    }
    return entry;
  }

  #store<T>(maps: WeakMap<object, Map<string, Entry<T>>>, rule: object, key: string, value: T): void {
    let map = maps.get(rule);
    if (!map) {
      map = new Map();
      maps.set(rule, map);
    }
    map.set(key, { at: this.now(), value });
  }
}
