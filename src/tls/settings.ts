/**
 * The TLS options of one listener as lighttpd 1.4.69's mod_openssl reads them: the socket's
 * scope (global, or a `$SERVER["socket"]` block) gives ssl.engine, the protocol and cipher
 * choices and the certificate; `$HTTP["host"]` blocks may give other certificates (SNI).
 * What node:tls cannot do is refused at its line: a listener with ssl.engine never comes up
 * as something less than what the config asked for.
 */
import { constants } from 'node:crypto';
import type { SecureVersion } from 'node:tls';
import type { OptionReader } from '../config/option-reader.js';
import type { CertificateFiles } from './pem.js';

/** LIGHTTPD_DEFAULT_CIPHER_LIST of mod_openssl.c. */
export const LIGHTTPD_CIPHERS = 'EECDH+AESGCM:AES256+EECDH:CHACHA20:!SHA1:!SHA256:!SHA384';

export interface ClientVerification {
  /** ssl.verifyclient.activate: ask for a client certificate. */
  activate: boolean;
  /** ssl.verifyclient.enforce: refuse the handshake without a valid one. */
  enforce: boolean;
  /** ssl.verifyclient.depth: intermediate certificates allowed (lighttpd: 9). */
  depth: number;
}

/** What one certificate scope says: the socket's, or a host's (SNI). */
export interface CertificateSettings extends CertificateFiles {
  /** ssl.ca-file */
  caFile?: string;
  verify: ClientVerification;
  /** Where the keys are, for errors at start. */
  reader: OptionReader;
}

export interface TlsSettings extends CertificateSettings {
  ciphers: string;
  minVersion: SecureVersion;
  maxVersion?: SecureVersion;
  /** Curves / Groups */
  ecdhCurve?: string;
  honorCipherOrder: boolean;
  secureOptions: number;
  /** DHParameters */
  dhFile?: string;
  warnings: string[];
}

const PROTOCOLS: Record<string, SecureVersion | undefined> = {
  none: undefined,
  tlsv1: 'TLSv1',
  'tlsv1.0': 'TLSv1',
  'tlsv1.1': 'TLSv1.1',
  'tlsv1.2': 'TLSv1.2',
  'tlsv1.3': 'TLSv1.3',
};

/** Keys lighttpd 1.4.69 no longer knows (it says "unknown config-key ... (ignored)"). */
export const IGNORED_KEYS: Readonly<Record<string, string>> = {
  'ssl.dh-file': 'ssl.openssl.ssl-conf-cmd = ("DHParameters" => "…")',
  'ssl.ec-curve': 'ssl.openssl.ssl-conf-cmd = ("Curves" => "…")',
  'ssl.honor-cipher-order': 'ssl.openssl.ssl-conf-cmd = ("Options" => "ServerPreference")',
};

/** ssl.engine of this scope. */
export function tlsEnabled(r: OptionReader): boolean {
  return r.bool('ssl.engine', false);
}

/** The certificate options of one scope (socket or host). */
export function readCertificateSettings(r: OptionReader): CertificateSettings {
  const pemFile = r.string('ssl.pemfile');
  if (!pemFile) throw r.error('ssl.engine', 'ssl.pemfile has to be set when ssl.engine = "enable"');
  return {
    pemFile,
    keyFile: r.string('ssl.privkey') || undefined,
    caFile: r.string('ssl.verifyclient.ca-file') || r.string('ssl.ca-file') || undefined,
    verify: {
      activate: r.bool('ssl.verifyclient.activate', false),
      enforce: r.bool('ssl.verifyclient.enforce', true),
      depth: r.int('ssl.verifyclient.depth', 9, { min: 0, max: 255 }),
    },
    reader: r,
  };
}

/** The socket's TLS options; throws a ConfigError at the line of what cannot be honoured. */
export function readTlsSettings(r: OptionReader): TlsSettings {
  const acme = r.string('ssl.acme-tls-1');
  if (acme)
    throw r.error(
      'ssl.acme-tls-1',
      'the TLS-ALPN-01 challenge is not supported by koa-lighty; use the http-01 challenge (a file under /.well-known/acme-challenge/)',
    );
  const cert = readCertificateSettings(r);
  if (cert.verify.activate && !cert.caFile)
    throw r.error(
      'ssl.verifyclient.activate',
      'needs ssl.ca-file (the CAs client certificates are checked against)',
    );
  const warnings: string[] = [];
  const settings: TlsSettings = {
    ...cert,
    ciphers: LIGHTTPD_CIPHERS,
    minVersion: 'TLSv1.2',
    honorCipherOrder: false,
    // lighttpd: no renegotiation, no compression (Node's defaults agree on compression).
    secureOptions: constants.SSL_OP_NO_RENEGOTIATION | constants.SSL_OP_NO_COMPRESSION,
    warnings,
  };
  const cipherList = r.string('ssl.cipher-list');
  if (cipherList) {
    settings.ciphers = cipherList;
    settings.honorCipherOrder = true;
    const at = r.where('ssl.cipher-list');
    warnings.push(
      `${at.file}:${at.line}: ssl.cipher-list is deprecated (as in lighttpd); prefer ssl.openssl.ssl-conf-cmd "CipherString"`,
    );
  }
  applyConfCmds(r, settings);
  return settings;
}

/** ssl.openssl.ssl-conf-cmd: the SSL_CONF_cmd(3) commands node:tls has options for. */
function applyConfCmds(r: OptionReader, s: TlsSettings): void {
  const key = 'ssl.openssl.ssl-conf-cmd';
  let cipherString: string | undefined;
  let suites: string | undefined;
  for (const [name, value] of r.pairs(key)) {
    switch (name.toLowerCase()) {
      case 'minprotocol':
      case 'maxprotocol': {
        const lower = value.toLowerCase();
        if (!(lower in PROTOCOLS)) throw r.error(key, `${name} ${value}: expected TLSv1.2, TLSv1.3 or None`);
        const version = PROTOCOLS[lower];
        if (name.toLowerCase() === 'minprotocol') s.minVersion = version ?? 'TLSv1';
        else s.maxVersion = version;
        break;
      }
      case 'cipherstring':
        cipherString = value;
        break;
      case 'ciphersuites':
        suites = value;
        break;
      case 'curves':
      case 'groups':
        s.ecdhCurve = value;
        break;
      case 'dhparameters':
        s.dhFile = value || undefined;
        break;
      case 'options':
        applyOptions(r, key, value, s);
        break;
      default:
        throw r.error(
          key,
          `${name} is not supported by koa-lighty (MinProtocol, MaxProtocol, CipherString, Ciphersuites, Curves, Groups, DHParameters, Options are)`,
        );
    }
  }
  if (cipherString !== undefined) s.ciphers = cipherString;
  // node:tls takes the TLSv1.3 suites in the same list (it hands them to SSL_CTX_set_ciphersuites).
  if (suites !== undefined) s.ciphers = `${suites}:${s.ciphers}`;
}

const OPTION_FLAGS: Record<string, { flag: number; set: boolean }> = {
  sessionticket: { flag: constants.SSL_OP_NO_TICKET, set: false },
  compression: { flag: constants.SSL_OP_NO_COMPRESSION, set: false },
  prioritizechacha: { flag: constants.SSL_OP_PRIORITIZE_CHACHA, set: true },
  noresumptiononrenegotiation: { flag: constants.SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION, set: true },
};

function applyOptions(r: OptionReader, key: string, value: string, s: TlsSettings): void {
  for (const word of value.split(/[\s,]+/).filter(Boolean)) {
    const on = !word.startsWith('-');
    const name = word.replace(/^[-+]/, '').toLowerCase();
    if (name === 'serverpreference') {
      s.honorCipherOrder = on;
      continue;
    }
    if (name === 'ktls') continue; // a kernel offload; Node's sockets do the crypto either way
    const known = OPTION_FLAGS[name];
    if (!known) throw r.error(key, `Options ${word} is not supported by koa-lighty`);
    // SessionTicket and Compression name a feature: `-` turns it off (sets the NO_ flag).
    if (on === known.set) s.secureOptions |= known.flag;
    else s.secureOptions &= ~known.flag;
  }
}
