/**
 * The secure contexts of one TLS listener, built from its certificate files and rebuilt when
 * they change (or on reload()): new handshakes get the new certificate, connections already
 * open keep theirs. A file caught half-written (a key that does not match yet, a cut PEM)
 * keeps the old context and is logged; the next change tries again.
 */
import { type FSWatcher, watch } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import {
  createSecureContext,
  type SecureContext,
  type SecureContextOptions,
  type Server,
  type TlsOptions,
} from 'node:tls';
import type { Logger } from '../log.js';
import type { ListenerTls } from '../server/listeners.js';
import { loadCaFile, loadCertificate, loadDhFile, PemError, validityWarning } from './pem.js';
import type { CertificateSettings, TlsSettings } from './settings.js';

/** What node:tls is given for one certificate scope, and what is worth a warning. */
export function contextOptions(
  tls: TlsSettings,
  cert: CertificateSettings,
): { options: SecureContextOptions; warnings: string[] } {
  const loaded = loadCertificate(cert);
  const warning = validityWarning(cert.pemFile, loaded.x509);
  return {
    options: {
      cert: loaded.cert,
      key: loaded.key,
      ca: cert.caFile ? loadCaFile(cert.caFile) : undefined,
      ciphers: tls.ciphers,
      minVersion: tls.minVersion,
      maxVersion: tls.maxVersion,
      ecdhCurve: tls.ecdhCurve,
      honorCipherOrder: tls.honorCipherOrder,
      secureOptions: tls.secureOptions,
      dhparam: tls.dhFile ? loadDhFile(tls.dhFile) : undefined,
    },
    warnings: warning ? [warning] : [],
  };
}

/** Every context of a listener, checked at start: errors are ConfigErrors at the key's line. */
export function checkListenerTls(tls: ListenerTls): string[] {
  const warnings = [...tls.settings.warnings];
  for (const cert of [tls.settings, ...tls.sni.map((s) => s.settings)]) {
    let built: ReturnType<typeof contextOptions>;
    try {
      built = contextOptions(tls.settings, cert);
    } catch (error) {
      if (error instanceof PemError) throw cert.reader.error(error.option, error.message);
      throw error;
    }
    try {
      createSecureContext(built.options);
    } catch (error) {
      // The files were fine: what OpenSSL refused is a cipher, curve or protocol choice.
      const key = cert.reader.has('ssl.openssl.ssl-conf-cmd')
        ? 'ssl.openssl.ssl-conf-cmd'
        : 'ssl.cipher-list';
      throw cert.reader.error(key, `OpenSSL refused the TLS settings: ${(error as Error).message}`);
    }
    const at = cert.reader.where('ssl.pemfile');
    warnings.push(...built.warnings.map((w) => `${at.file}:${at.line}: ssl.pemfile: ${w}`));
  }
  return warnings;
}

export class ListenerContexts {
  private base: SecureContextOptions;
  private byName: Array<{ matches(name: string): boolean; context: SecureContext }> = [];
  private readonly watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  private server: Server | undefined;

  constructor(
    private readonly tls: ListenerTls,
    private readonly log: Logger,
  ) {
    this.base = contextOptions(tls.settings, tls.settings).options;
    this.byName = this.buildSni();
  }

  /** The options of tls.createServer: the socket's certificate, client verification, SNI. */
  serverOptions(): TlsOptions {
    const { verify } = this.tls.settings;
    return {
      ...this.base,
      requestCert: verify.activate,
      rejectUnauthorized: verify.activate && verify.enforce,
      SNICallback: (name, done) => {
        let found: SecureContext | undefined;
        for (const entry of this.byName) if (entry.matches(name)) found = entry.context;
        done(null, found);
      },
    };
  }

  /** Follows the certificate files: a change rebuilds the contexts of this server. */
  attach(server: Server): void {
    this.server = server;
    const files = new Set<string>();
    for (const cert of [this.tls.settings, ...this.tls.sni.map((s) => s.settings)]) {
      for (const file of [cert.pemFile, cert.keyFile, cert.caFile]) if (file) files.add(resolve(file));
    }
    if (this.tls.settings.dhFile) files.add(resolve(this.tls.settings.dhFile));
    const names = new Set([...files].map((f) => basename(f)));
    // The directory sees a file replaced by rename (certbot, `mv`); the file itself, a
    // rewrite in place or the target of a symlink changing.
    const watched = new Set([...files, ...[...files].map((f) => dirname(f))]);
    for (const path of watched) {
      try {
        const watcher = watch(path, { persistent: false }, (_event, name) => {
          if (files.has(path) || (name && names.has(name.toString()))) this.changed();
        });
        watcher.on('error', () => {});
        this.watchers.push(watcher);
      } catch {
        // a file that cannot be watched (gone for now): the directory still is
      }
    }
  }

  /** Reads the files again now; false (logged) when they are not usable and the old ones stay. */
  reload(): boolean {
    let base: SecureContextOptions;
    let byName: ListenerContexts['byName'];
    try {
      base = contextOptions(this.tls.settings, this.tls.settings).options;
      byName = this.buildSni();
      this.server?.setSecureContext(base);
    } catch (error) {
      this.log.error(
        'mod_openssl',
        `certificates not reloaded, the old ones stay: ${(error as Error).message}`,
      );
      return false;
    }
    this.base = base;
    this.byName = byName;
    this.log.info('mod_openssl', `certificates reloaded (${this.tls.settings.pemFile})`);
    return true;
  }

  close(): void {
    clearTimeout(this.timer);
    for (const watcher of this.watchers) watcher.close();
    this.watchers.length = 0;
  }

  /** Several events come for one replacement (cert, then key): one reload after they settle. */
  private changed(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.reload(), 250);
    this.timer.unref();
  }

  private buildSni(): ListenerContexts['byName'] {
    return this.tls.sni.map((entry) => ({
      matches: entry.matches,
      context: createSecureContext(contextOptions(this.tls.settings, entry.settings).options),
    }));
  }
}
