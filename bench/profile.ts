// Where the time goes: `node --import tsx bench/profile.ts [file.cpuprofile ...]` sums the
// self time of V8 CPU profiles (written by `BENCH_PROFILE=1 npm run bench`, or any
// `node --cpu-prof`) by function and by file, and prints the top entries.
// Without arguments it reads every profile in bench/results/profiles.
// TOP=25 sets how many lines each list has.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { BENCH_DIR, ROOT } from './lib/site.js';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const top = Number(process.env.TOP ?? 25);
const dir = join(BENCH_DIR, 'results', 'profiles');
const files = process.argv.slice(2).length
  ? process.argv.slice(2)
  : readdirSync(dir)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => join(dir, f));
if (files.length === 0) {
  console.error(`profile: no .cpuprofile files (run BENCH_PROFILE=1 npm run bench first)`);
  process.exit(1);
}

/** A short, stable name for where a frame's code lives. */
function place(url: string): string {
  if (!url) return '(native / V8)';
  const path = url.startsWith('file://') ? new URL(url).pathname : url;
  if (path.startsWith('node:')) return path;
  const nm = path.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = path.slice(nm + '/node_modules/'.length).split('/');
    return `npm:${rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  return path.startsWith(ROOT) ? relative(ROOT, path) : path;
}

const byFunction = new Map<string, number>();
const byFile = new Map<string, number>();
let total = 0;
let idle = 0;
for (const file of files) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  profile.samples.forEach((id, i) => {
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    const frame = nodes.get(id)!.callFrame;
    if (frame.functionName === '(idle)') {
      idle += ms;
      return;
    }
    total += ms;
    const where = place(frame.url);
    const fn = `${frame.functionName || '(anonymous)'}  ${where}${frame.url ? `:${frame.lineNumber + 1}` : ''}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + ms);
    byFile.set(where, (byFile.get(where) ?? 0) + ms);
  });
}

const print = (title: string, map: Map<string, number>) => {
  console.log(`\n${title}`);
  console.log('   ms      %  ');
  for (const [name, ms] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${ms.toFixed(0).padStart(6)} ${((ms / total) * 100).toFixed(1).padStart(5)}%  ${name}`);
  }
};
console.log(
  `${files.length} profile(s): ${total.toFixed(0)} ms busy, ${idle.toFixed(0)} ms idle ` +
    `(self time; GC shows as "(garbage collector)", native code as "(program)")`,
);
print('By file or package (self time)', byFile);
print('By function (self time)', byFunction);
