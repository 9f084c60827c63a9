import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { normaliseTarget } from '../src/http/request-path.js';
import type { SecdownloadAlgorithm } from '../src/secdownload/algorithm.js';
import { parseSecdownloadLink } from '../src/secdownload/link.js';
import { createSigner, signedPath } from '../src/secdownload/sign.js';
import { secdownloadUrl } from '../src/secdownload/url.js';
import { type RawResponse, rawRequest } from './helpers/http.js';
import { AREA, CANARY, SECRET, serveSecdownload, T_SECONDS } from './secdownload-app.js';

/**
 * 10,000 random and mutated links against running servers: whatever arrives, the answer is a
 * deliberate 4xx or a file from the download area, never a 5xx, a crash, or the canary file
 * planted next to the area (reachable only through the area's symlinks).
 */
const TOTAL = 10_000;
const PARALLEL = 32;
const ALLOWED = new Set([200, 206, 304, 400, 403, 404, 410]);

/** mulberry32: a seeded generator, so a failure can be replayed with FUZZ_SEED. */
function generator(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(list: readonly T[]): T => list[int(list.length)]!;
  return { next, int, pick };
}

/** Path segments a server must resolve correctly: dot-segments in every spelling, the symlinks out. */
const TOKENS = [
  '..',
  '.',
  '%2e%2e',
  '%2E%2e',
  '.%2e',
  '%2f',
  '%2F',
  '%252f',
  '%c3%bc',
  '%C3%A9',
  'a.txt',
  'dir',
  'deep.txt',
  'data.bin',
  'secret-file.txt',
  'inside-link.txt',
  'outside-link.txt',
  'outside-dir',
  'outside',
  'canary.txt',
  '',
  '~',
  '%',
  '%zz',
  '?',
  '#',
  ';',
  '\\',
  '%5c',
  'x'.repeat(300),
  'y'.repeat(2000),
  '%20',
  '*',
  "'",
  '%3f',
  '%23',
  '%E2%80%AE',
  '%F0%9F%98%80',
  'my%20file%20%C3%BC.txt',
] as const;
/**
 * Segments that make the request-target itself bad: 400 from the normaliser, or from Node's
 * parser, which refuses raw bytes above 0x7f (lighttpd took raw UTF-8; browsers send it encoded).
 */
const BAD_TOKENS = [
  '%00',
  '%ff',
  '%c3',
  '%7f',
  ' ',
  '"',
  '<',
  '\x01',
  '\x7f',
  '\u00fc',
  '\u00c3\u00bc',
] as const;
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const FILES = [
  '/a.txt',
  '/dir/deep.txt',
  '/data.bin',
  '/secret-file.txt',
  '/inside-link.txt',
  '/my file ü.txt',
];

/** Every regular file of the area: a 200 (or 206 part) must come from one of these. */
function areaBodies(dir = AREA): Buffer[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.isDirectory()) return areaBodies(join(dir, entry.name));
    return entry.isFile() ? [readFileSync(join(dir, entry.name))] : [];
  });
}

interface Probe {
  kind: string;
  target: string;
  headers: Record<string, string>;
  /** The rel-path of a correctly signed link, when the probe is one (a directory may then redirect). */
  signedRelPath?: string;
}

function probes(
  seed: number,
  servers: Array<{ algorithm: SecdownloadAlgorithm; hashQuerystr: boolean }>,
): Probe[][] {
  const r = generator(seed);
  const randomText = (alphabet: string, length: number) =>
    Array.from({ length }, () => alphabet[r.int(alphabet.length)]).join('');
  const randomBytes = (length: number) =>
    Array.from({ length }, () => String.fromCharCode(r.int(256))).join('');
  const relPath = () =>
    Array.from({ length: 1 + r.int(6) }, () => {
      const roll = r.next();
      if (roll < 0.9) return r.pick(TOKENS);
      return roll < 0.95 ? r.pick(BAD_TOKENS) : randomBytes(1 + r.int(8));
    })
      .map((segment) => (r.next() < 0.1 ? `${segment}${r.pick(['%2f', '%2F', '/./', '//'])}` : segment))
      .reduce((path, segment) => `${path}/${segment}`, '');
  const timestamp = () =>
    r.next() < 0.7
      ? (T_SECONDS + r.int(121) - 60).toString(16)
      : randomText('0123456789abcdefABCDEF', 1 + r.int(18));
  const headers = (): Record<string, string> => {
    const roll = r.next();
    // Satisfiable on every file of the area (the smallest has 32 bytes): 416 is not a link's answer.
    if (roll < 0.1) {
      const start = r.int(30);
      return { Range: r.next() < 0.5 ? `bytes=${start}-${start + r.int(40)}` : `bytes=${start}-` };
    }
    if (roll < 0.15) return { 'If-None-Match': '*' };
    if (roll < 0.2) return { 'If-Modified-Since': new Date(Date.now() + 86_400_000).toUTCString() };
    return {};
  };
  const mutate = (link: string) => {
    let out = link;
    for (let n = 1 + r.int(3); n > 0; n--) {
      const at = r.int(out.length);
      const op = r.int(6);
      if (op === 0) out = out.slice(0, at) + String.fromCharCode(r.int(256)) + out.slice(at + 1);
      else if (op === 1) out = out.slice(0, at) + String.fromCharCode(32 + r.int(95)) + out.slice(at);
      else if (op === 2) out = out.slice(0, at) + out.slice(at + 1);
      else if (op === 3) out = out.slice(0, at) + out[at]!.toUpperCase() + out.slice(at + 1);
      else if (op === 4)
        out = `${out.slice(0, at)}%${out.charCodeAt(at).toString(16).padStart(2, '0')}${out.slice(at + 1)}`;
      else out = out.slice(0, at) + r.pick(TOKENS) + out.slice(at);
    }
    return out.startsWith('/') ? out : `/${out}`;
  };

  return servers.map(({ algorithm, hashQuerystr }) => {
    const signer = createSigner(SECRET, algorithm);
    const list: Probe[] = [];
    for (let i = 0; i < TOTAL / servers.length; i++) {
      const roll = r.next();
      if (roll < 0.2) {
        list.push({ kind: 'random bytes', target: `/${randomBytes(1 + r.int(200))}`, headers: {} });
      } else if (roll < 0.5) {
        const macLength = signer.macLength + (r.next() < 0.8 ? 0 : r.int(3) - 1);
        const target = `/dl/${randomText(BASE64URL, macLength)}/${timestamp()}${relPath()}`;
        list.push({ kind: 'random link', target, headers: headers() });
      } else if (roll < 0.7) {
        list.push(
          signedProbe(
            signer,
            `/dl/${'A'.repeat(signer.macLength)}/${timestamp()}${relPath()}`,
            hashQuerystr,
            headers(),
          ),
        );
      } else {
        const query = hashQuerystr && r.next() < 0.5 ? 'x=1&y=%41' : undefined;
        const path = r.pick(FILES);
        const link = secdownloadUrl({
          secret: SECRET,
          uriPrefix: '/dl/',
          algorithm,
          path,
          query,
          now: () => T_SECONDS * 1000,
        });
        list.push({ kind: 'mutated link', target: mutate(link), headers: headers() });
      }
    }
    return list;
  });
}

/** A link with a right MAC for whatever rel-path the server will see after normalising the target. */
function signedProbe(
  signer: ReturnType<typeof createSigner>,
  target: string,
  hashQuerystr: boolean,
  headers: Record<string, string>,
): Probe {
  let normalised: ReturnType<typeof normaliseTarget>;
  try {
    normalised = normaliseTarget(target);
  } catch {
    return { kind: 'signed link (bad target)', target, headers };
  }
  const link = parseSecdownloadLink(normalised.path, 4, signer.macLength);
  if (!link || link.mac !== 'A'.repeat(signer.macLength))
    return { kind: 'signed link (not a link)', target, headers };
  const mac = signer.sign(
    link.timestampHex,
    signedPath(link.relPath, 0, hashQuerystr ? normalised.query : ''),
  );
  return { kind: 'signed link', target: target.replace(link.mac, mac), headers, signedRelPath: link.relPath };
}

function isDirectoryInArea(relPath: string): boolean {
  try {
    return statSync(AREA + relPath).isDirectory();
  } catch {
    return false;
  }
}

test('10,000 random and mutated links: no 5xx, no crash, nothing from outside documentRoot', async (t) => {
  const seed = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
  t.log(`FUZZ_SEED=${seed}`);
  const configs = [
    { algorithm: 'md5' as const, hashQuerystr: false },
    { algorithm: 'hmac-sha256' as const, hashQuerystr: true },
  ];
  const servers = await Promise.all(configs.map((config) => serveSecdownload({ ...config, timeout: 30 })));
  t.teardown(() => Promise.all(servers.map((served) => served.close())));
  const bodies = areaBodies();
  const work = probes(seed, configs).flatMap((list, index) =>
    list.map((probe) => ({ probe, served: servers[index]! })),
  );
  t.is(work.length, TOTAL);

  const problems: string[] = [];
  const statuses = new Map<number, number>();
  const byKind = new Map<string, number>();
  const check = (probe: Probe, res: RawResponse) => {
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    if (res.status === 400) byKind.set(probe.kind, (byKind.get(probe.kind) ?? 0) + 1);
    const where = `${probe.kind} ${JSON.stringify(probe.target)} ${JSON.stringify(probe.headers)}`;
    if (res.body.includes(CANARY)) problems.push(`canary served: ${where}`);
    const redirect =
      res.status === 301 && probe.signedRelPath !== undefined && isDirectoryInArea(probe.signedRelPath);
    if (!ALLOWED.has(res.status) && !redirect) problems.push(`status ${res.status}: ${where}`);
    if (res.status === 200 && !bodies.some((body) => body.equals(res.body)))
      problems.push(`unknown 200 body: ${where}`);
    if (res.status === 206 && !bodies.some((body) => body.includes(res.body)))
      problems.push(`unknown 206 body: ${where}`);
  };

  let next = 0;
  await Promise.all(
    Array.from({ length: PARALLEL }, async () => {
      while (next < work.length) {
        const { probe, served } = work[next++]!;
        try {
          check(probe, await rawRequest(served.port, probe.target, probe.headers));
        } catch (err) {
          problems.push(
            `no answer (${(err as Error).message}): ${probe.kind} ${JSON.stringify(probe.target)}`,
          );
        }
      }
    }),
  );

  t.log(`400s by kind of probe: ${JSON.stringify(Object.fromEntries(byKind))}`);
  t.log(`statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
  t.deepEqual(problems.slice(0, 20), []);
  for (const served of servers) t.deepEqual(served.errors, []);
  // Every kind of answer a link can get did come up, so the probes reached past the parser.
  for (const status of [200, 400, 403, 404, 410])
    t.true((statuses.get(status) ?? 0) > 0, `no ${status} seen`);
  // And the servers still work.
  for (const [index, served] of servers.entries()) {
    const link = secdownloadUrl({
      secret: SECRET,
      uriPrefix: '/dl/',
      algorithm: configs[index]!.algorithm,
      path: '/a.txt',
      now: () => T_SECONDS * 1000,
    });
    t.is((await rawRequest(served.port, link)).status, 200);
  }
});
