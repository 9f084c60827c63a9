/**
 * ssl.pemfile / ssl.privkey / ssl.ca-file as lighttpd reads them: a PEM file holding the
 * certificate (and its chain) and, unless ssl.privkey names another file, the private key.
 * Every problem a user makes (file not readable, not PEM, a key that is not the
 * certificate's, an encrypted key) is a PemError naming the file and the key that named it.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** A problem with one file, and the config key that named it (for the error's line). */
export class PemError extends Error {
  constructor(
    message: string,
    readonly option: string,
  ) {
    super(message);
  }
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

export interface CertificateFiles {
  /** ssl.pemfile */
  pemFile: string;
  /** ssl.privkey; the key is in pemFile when unset. */
  keyFile?: string;
}

export interface LoadedCertificate {
  /** The certificate then its chain, PEM. */
  cert: string;
  key: string;
  /** The leaf. */
  x509: X509Certificate;
}

type Block = { label: string; pem: string };

function readBlocks(file: string, option: string): Block[] {
  let text: string;
  try {
    text = readFileSync(file, 'latin1');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
    throw new PemError(`cannot read ${file}: ${why}`, option);
  }
  return [...text.matchAll(BLOCK)].map((m) => ({ label: m[1]!, pem: `${m[0]}\n` }));
}

function certificatesIn(file: string, option: string, found: Block[]): Block[] {
  const certs = found.filter((b) => b.label === 'CERTIFICATE');
  if (certs.length === 0) throw new PemError(`${file}: no PEM certificate in the file`, option);
  return certs;
}

function parseCertificate(file: string, option: string, pem: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (error) {
    throw new PemError(`${file}: a certificate is not valid PEM (${(error as Error).message})`, option);
  }
}

/** Reads and checks a certificate and its key (throws a PemError). */
export function loadCertificate({ pemFile, keyFile }: CertificateFiles): LoadedCertificate {
  const pemBlocks = readBlocks(pemFile, 'ssl.pemfile');
  const certs = certificatesIn(pemFile, 'ssl.pemfile', pemBlocks);
  const x509 = parseCertificate(pemFile, 'ssl.pemfile', certs[0]!.pem);
  const keyOption = keyFile ? 'ssl.privkey' : 'ssl.pemfile';
  const keySource = keyFile ?? pemFile;
  const keyBlocks = keyFile ? readBlocks(keyFile, keyOption) : pemBlocks;
  if (keyBlocks.some((b) => b.label === 'ENCRYPTED PRIVATE KEY'))
    throw new PemError(
      `${keySource}: the private key is encrypted (a server cannot ask for its passphrase)`,
      keyOption,
    );
  const block = keyBlocks.find((b) => b.label.endsWith('PRIVATE KEY'));
  if (!block) throw new PemError(`${keySource}: no PEM private key in the file`, keyOption);
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey(block.pem);
  } catch (error) {
    throw new PemError(
      `${keySource}: the private key is not valid PEM (${(error as Error).message})`,
      keyOption,
    );
  }
  if (!x509.checkPrivateKey(key))
    throw new PemError(
      `${keySource}: the private key does not match the certificate in ${pemFile}`,
      keyOption,
    );
  return { cert: certs.map((b) => b.pem).join(''), key: block.pem, x509 };
}

/** ssl.ca-file: the certificates client certificates are checked against. */
export function loadCaFile(file: string): string {
  const certs = certificatesIn(file, 'ssl.ca-file', readBlocks(file, 'ssl.ca-file'));
  for (const cert of certs) parseCertificate(file, 'ssl.ca-file', cert.pem);
  return certs.map((b) => b.pem).join('');
}

/** ssl.openssl.ssl-conf-cmd DHParameters: DH parameters, PEM. */
export function loadDhFile(file: string): string {
  const found = readBlocks(file, 'ssl.openssl.ssl-conf-cmd').find((b) => b.label === 'DH PARAMETERS');
  if (!found) throw new PemError(`${file}: no PEM DH PARAMETERS in the file`, 'ssl.openssl.ssl-conf-cmd');
  return found.pem;
}

/** A warning when the certificate is not valid now (expired, or not yet valid), else undefined. */
export function validityWarning(file: string, x509: X509Certificate, now = Date.now()): string | undefined {
  if (Date.parse(x509.validTo) < now)
    return `${file}: the certificate expired on ${x509.validTo}; clients will refuse it`;
  if (Date.parse(x509.validFrom) > now)
    return `${file}: the certificate is not valid before ${x509.validFrom}`;
  return undefined;
}
