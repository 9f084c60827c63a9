#!/usr/bin/env node
// Runs the ava suite once on the machine's Node and once on Node 24 LTS (installed from npm by
// scripts/setup.mjs into .tools/), and ends with the plain line `N passed, M failed` that CI
// reads, summed over both runs. ava's TAP output is passed through unchanged; the counts come
// from its `ok`/`not ok` lines. TEST_NODE=current runs only the machine's Node (for quick
// local runs); arguments are passed on to ava (a test file, --match).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { NODE_24_BIN } from './node24.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const node24 = NODE_24_BIN;

function versionOf(bin) {
  return execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim();
}

const runtimes = [process.execPath];
if (process.env.TEST_NODE !== 'current') {
  if (!existsSync(node24)) {
    console.error(`test: ${node24} is missing: run node scripts/setup.mjs --for-tests`);
    process.exit(1);
  }
  if (versionOf(node24) !== process.version) runtimes.push(node24);
}

function runSuite(node) {
  return new Promise((resolve) => {
    const child = spawn(node, ['node_modules/ava/entrypoints/cli.mjs', '--tap', ...process.argv.slice(2)], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const counts = { passed: 0, failed: 0, skipped: 0 };
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      console.log(line);
      if (/^not ok \d+/.test(line)) counts.failed++;
      else if (/^ok \d+ .*# SKIP/i.test(line)) counts.skipped++;
      else if (/^ok \d+/.test(line)) counts.passed++;
    });
    child.on('close', (code) => {
      // A crashed test file or a non-zero ava exit without a failed test still counts as a failure.
      if (code !== 0 && counts.failed === 0) counts.failed = 1;
      resolve(counts);
    });
  });
}

const total = { passed: 0, failed: 0, skipped: 0 };
for (const node of runtimes) {
  const version = versionOf(node);
  console.log(`# the suite on Node ${version}`);
  const counts = await runSuite(node);
  console.log(
    `# Node ${version}: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`,
  );
  for (const key of Object.keys(total)) total[key] += counts[key];
}
console.log(
  `${total.passed} passed, ${total.failed} failed${total.skipped ? `, ${total.skipped} skipped` : ''}`,
);
process.exit(total.failed > 0 || total.skipped > 0 ? 1 : 0);
