#!/usr/bin/env node
// Runs the ava suite and ends with the plain line `N passed, M failed` that CI reads.
// ava's TAP output is passed through unchanged; the counts come from its `ok`/`not ok` lines.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const child = spawn(
  process.execPath,
  ['node_modules/ava/entrypoints/cli.mjs', '--tap', ...process.argv.slice(2)],
  {
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
let passed = 0;
let failed = 0;
let skipped = 0;
const lines = createInterface({ input: child.stdout });
lines.on('line', (line) => {
  console.log(line);
  if (/^not ok \d+/.test(line)) failed++;
  else if (/^ok \d+ .*# SKIP/i.test(line)) skipped++;
  else if (/^ok \d+/.test(line)) passed++;
});
child.on('close', (code) => {
  // A crashed test file or a non-zero ava exit without a failed test still counts as a failure.
  if (code !== 0 && failed === 0) failed = 1;
  console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  process.exit(failed > 0 || skipped > 0 ? 1 : 0);
});
