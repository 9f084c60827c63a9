import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { Middleware } from 'koa';
import { requestState } from '../http/request-state.js';

/**
 * mod_openssl's request environment: on a TLS connection a backend gets SSL_PROTOCOL and
 * SSL_CIPHER*, and with client verification SSL_CLIENT_VERIFY, the subject (SSL_CLIENT_S_DN
 * and one SSL_CLIENT_S_DN_<field> per field), SSL_CLIENT_M_SERIAL, optionally the
 * certificate (SSL_CLIENT_CERT) and REMOTE_USER from one of those. Names as lighttpd sets
 * them; the FastCGI stage encodes them as it encodes every environment variable.
 */
export interface SslEnvironmentOptions {
  /** ssl.verifyclient.activate */
  verifyClient?: boolean;
  /** ssl.verifyclient.depth: intermediate certificates allowed (default 9). */
  depth?: number;
  /** ssl.verifyclient.username: the variable REMOTE_USER is taken from, e.g. SSL_CLIENT_S_DN_CN. */
  username?: string;
  /** ssl.verifyclient.exportcert: SSL_CLIENT_CERT, the client's certificate in PEM. */
  exportCert?: boolean;
}

const DONE = Symbol('ssl environment set');

export function sslEnvironment(options: SslEnvironmentOptions = {}): Middleware {
  return function sslEnv(ctx, next) {
    const socket = ctx.req.socket as TLSSocket;
    const held = ctx.state as Record<symbol, unknown>;
    if (!socket.encrypted || held[DONE]) return next();
    held[DONE] = true;
    const state = requestState(ctx);
    const env = sslVariables(socket, options);
    state.environment = [...(state.environment ?? []), ...env];
    if (options.verifyClient && options.username) {
      const user = env.find(([name]) => name === options.username);
      if (user) {
        state.remoteUser = user[1];
        state.authType = 'SSL_CLIENT_VERIFY';
      }
    }
    return next();
  };
}

export function sslVariables(socket: TLSSocket, options: SslEnvironmentOptions): Array<[string, string]> {
  const env: Array<[string, string]> = [];
  const protocol = socket.getProtocol();
  if (protocol) env.push(['SSL_PROTOCOL', protocol]);
  const cipher = socket.getCipher();
  if (cipher) {
    const bits = cipherBits(cipher.name);
    env.push(['SSL_CIPHER', cipher.name]);
    if (bits) env.push(['SSL_CIPHER_USEKEYSIZE', String(bits)], ['SSL_CIPHER_ALGKEYSIZE', String(bits)]);
  }
  if (!options.verifyClient) return env;
  const peer = socket.getPeerCertificate(true);
  if (!socket.authorized && socket.authorizationError && peer?.raw) {
    env.push(['SSL_CLIENT_VERIFY', `FAILED:${socket.authorizationError}`]);
    return env;
  }
  if (!peer?.raw) {
    env.push(['SSL_CLIENT_VERIFY', 'NONE']);
    return env;
  }
  if (chainDepth(peer) > (options.depth ?? 9)) {
    env.push(['SSL_CLIENT_VERIFY', 'FAILED:certificate chain too long']);
    return env;
  }
  env.push(['SSL_CLIENT_VERIFY', 'SUCCESS']);
  const x509 = new X509Certificate(peer.raw);
  // OpenSSL's one-line form, as lighttpd prints it: `CN = jane, O = Example`, in the
  // certificate's order (Node gives the same fields and escaping, one per line).
  const fields = x509.subject.split('\n').filter(Boolean);
  env.push(['SSL_CLIENT_S_DN', fields.map((f) => f.replace('=', ' = ')).join(', ')]);
  for (const field of fields) {
    const eq = field.indexOf('=');
    if (eq > 0) env.push([`SSL_CLIENT_S_DN_${field.slice(0, eq)}`, field.slice(eq + 1)]);
  }
  env.push(['SSL_CLIENT_M_SERIAL', x509.serialNumber.toUpperCase()]);
  if (options.exportCert) env.push(['SSL_CLIENT_CERT', x509.toString()]);
  return env;
}

/**
 * How deep the client's chain goes, counted as OpenSSL's verify depth: the client's own
 * certificate is 0, its issuer 1, and so on up to the root (a certificate signed by the CA
 * directly is 1).
 */
export function chainDepth(peer: ReturnType<TLSSocket['getPeerCertificate']>): number {
  type Linked = typeof peer & { issuerCertificate?: Linked };
  let depth = 0;
  let cert = peer as Linked;
  while (cert.issuerCertificate && cert.issuerCertificate !== cert && depth < 300) {
    cert = cert.issuerCertificate;
    depth++;
  }
  return depth;
}

/** SSL_CIPHER_get_bits for the ciphers of lighttpd's defaults and OpenSSL's usual ones. */
function cipherBits(name: string): number | undefined {
  if (/AES_?256|CHACHA20|CAMELLIA256|ARIA256/.test(name)) return 256;
  if (/AES_?128|CAMELLIA128|ARIA128|SM4/.test(name)) return 128;
  if (/3DES|DES-CBC3/.test(name)) return 112;
  return undefined;
}
