import { type SslEnvironmentOptions, sslEnvironment } from '../middleware/ssl-env.js';
import { IGNORED_KEYS } from '../tls/settings.js';
import { module, type OptionType } from './descriptor.js';

/**
 * mod_openssl: the listeners' TLS comes from the same keys (server/listeners.ts reads them per
 * socket, tls/ builds the contexts); per request the module adds the SSL_* variables a
 * backend sees (lighttpd runs it at uri_raw, before mod_auth, so REMOTE_USER from a client
 * certificate is known to the rules that follow).
 */
const KEYS: Record<string, OptionType> = {
  'ssl.engine': 'boolean',
  'ssl.pemfile': 'string',
  'ssl.privkey': 'string',
  'ssl.ca-file': 'string',
  'ssl.verifyclient.ca-file': 'string',
  'ssl.openssl.ssl-conf-cmd': 'pairs',
  'ssl.cipher-list': 'string',
  'ssl.disable-client-renegotiation': 'boolean',
  'ssl.verifyclient.activate': 'boolean',
  'ssl.verifyclient.enforce': 'boolean',
  'ssl.verifyclient.depth': 'integer',
  'ssl.verifyclient.username': 'string',
  'ssl.verifyclient.exportcert': 'boolean',
  'ssl.acme-tls-1': 'string',
  ...Object.fromEntries(Object.keys(IGNORED_KEYS).map((key) => [key, 'string' as const])),
};

export const modOpenssl = module<SslEnvironmentOptions>({
  name: 'mod_openssl',
  hook: 'uri_raw',
  keys: KEYS,
  pure: true,
  read(r) {
    // Type checks at the line, for every block; the socket-level ones are read by listeners.ts.
    r.bool('ssl.disable-client-renegotiation', true);
    return {
      verifyClient: r.bool('ssl.verifyclient.activate', false),
      depth: r.int('ssl.verifyclient.depth', 9, { min: 0, max: 255 }),
      username: r.string('ssl.verifyclient.username') || undefined,
      exportCert: r.bool('ssl.verifyclient.exportcert', false),
    };
  },
  stage: (options) => sslEnvironment(options),
  warnings(r) {
    return Object.entries(IGNORED_KEYS)
      .filter(([key]) => r.has(key))
      .map(([key, instead]) => {
        const at = r.where(key);
        return `${at.file}:${at.line}: ${key} is ignored, as lighttpd 1.4.69 ignores it (an unknown config-key there); use ${instead}`;
      });
  },
});
