/**
 * A certificate authority made at test time with Debian's openssl: tests of TLS listeners
 * get real certificates (for names of their choosing, with a known serial, valid or expired)
 * that a client trusting `ca.certFile` accepts. Nothing is committed: every file lives in a
 * temp dir removed by `remove()`.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface IssuedCertificate {
  /** The certificate alone (PEM). */
  certFile: string;
  /** The private key alone (PEM, unencrypted). */
  keyFile: string;
  /** Certificate then key in one file, as `ssl.pemfile` usually holds them. */
  pemFile: string;
  /** The serial as hex digits, upper case, as Node's `getPeerCertificate().serialNumber`. */
  serial: string;
}

export interface IssueOptions {
  /** DNS names (subjectAltName); the first is also the common name. */
  names: string[];
  /** Hex digits; default a fresh random serial. */
  serial?: string;
  /** Valid from one day ago for this many days; 0 or less gives an expired certificate. */
  days?: number;
  /** A client certificate (extendedKeyUsage clientAuth) instead of a server one. */
  client?: boolean;
  /** The subject's common name when it is not names[0] (client certificates: the user). */
  commonName?: string;
  /** More subject fields, e.g. `{ emailAddress: 'jane@example.com', O: 'Example' }`. */
  subject?: Record<string, string>;
}

export interface TestCa {
  dir: string;
  /** The CA's certificate: what a client trusts (curl --cacert, Chromium's trust store). */
  certFile: string;
  issue(name: string, options: IssueOptions): IssuedCertificate;
  remove(): void;
}

function openssl(args: string[], cwd: string): string {
  return execFileSync('openssl', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Makes a CA (EC P-256, valid ten years) in a new temp dir. */
export function createTestCa(commonName = 'koa-lighty test CA'): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'koa-lighty-ca-'));
  const caKey = join(dir, 'ca.key');
  const caCert = join(dir, 'ca.crt');
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', caKey], dir);
  openssl(
    [
      'req',
      '-x509',
      '-new',
      '-key',
      caKey,
      '-sha256',
      '-days',
      '3650',
      '-subj',
      `/CN=${commonName}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
      '-out',
      caCert,
    ],
    dir,
  );
  // The smallest `openssl ca` set-up: a database it insists on, and a policy that takes any subject.
  const caConfig = join(dir, 'ca.cnf');
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(
    caConfig,
    [
      '[ca]',
      'default_ca = test_ca',
      '[test_ca]',
      `database = ${join(dir, 'index.txt')}`,
      `new_certs_dir = ${dir}`,
      `serial = ${join(dir, 'serial')}`,
      `certificate = ${caCert}`,
      `private_key = ${caKey}`,
      'default_md = sha256',
      'unique_subject = no',
      'policy = any_subject',
      '[any_subject]',
      'commonName = supplied',
      '',
    ].join('\n'),
  );
  const issue = (name: string, options: IssueOptions): IssuedCertificate => {
    const keyFile = join(dir, `${name}.key`);
    const csrFile = join(dir, `${name}.csr`);
    const certFile = join(dir, `${name}.crt`);
    const pemFile = join(dir, `${name}.pem`);
    const extFile = join(dir, `${name}.ext`);
    const serial = (options.serial ?? randomSerial()).toUpperCase();
    const fields = { CN: options.commonName ?? options.names[0] ?? name, ...options.subject };
    const subj = Object.entries(fields)
      .map(([k, v]) => `/${k}=${v}`)
      .join('');
    openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', keyFile], dir);
    openssl(['req', '-new', '-key', keyFile, '-subj', subj, '-out', csrFile], dir);
    const ext = [
      'basicConstraints=CA:FALSE',
      `extendedKeyUsage=${options.client ? 'clientAuth' : 'serverAuth'}`,
      ...(options.names.length > 0
        ? [
            `subjectAltName=${options.names.map((n) => (/^[\d.:]+$/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',')}`,
          ]
        : []),
    ];
    writeFileSync(extFile, `${ext.join('\n')}\n`);
    const days = options.days ?? 30;
    // `openssl x509 -req` counts validity from now and refuses a negative -days; `openssl ca`
    // takes both dates, so an expired certificate is one whose whole validity lies in the past.
    const from = new Date(Date.now() - 86_400_000 * (days > 0 ? 1 : 10));
    const to = new Date(days > 0 ? Date.now() + 86_400_000 * days : Date.now() - 86_400_000);
    writeFileSync(join(dir, 'serial'), `${serial}\n`);
    openssl(
      [
        'ca',
        '-batch',
        '-config',
        caConfig,
        '-preserveDN',
        '-notext',
        '-in',
        csrFile,
        '-extfile',
        extFile,
        '-startdate',
        asn1Time(from),
        '-enddate',
        asn1Time(to),
        '-out',
        certFile,
      ],
      dir,
    );
    writeFileSync(pemFile, readFileSync(certFile, 'utf8') + readFileSync(keyFile, 'utf8'));
    return { certFile, keyFile, pemFile, serial };
  };
  return {
    dir,
    certFile: caCert,
    issue,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

function randomSerial(): string {
  // Eight bytes, the first in 0x10-0x7f: positive, no leading zero, always 16 hex digits
  // (openssl's serial file wants an even number of them).
  const bytes = randomBytes(8);
  bytes[0] = (bytes[0]! & 0x6f) | 0x10;
  return bytes.toString('hex');
}

/** The ASN.1 time openssl's -startdate/-enddate take: YYMMDDHHMMSSZ. */
function asn1Time(d: Date): string {
  return `${d.toISOString().replace(/[-:T]/g, '').slice(2, 14)}Z`;
}
