/**
 * Debian's Chromium for the browser tests, through playwright-core: headless, no sandbox
 * (the tests may run as root), nothing fetched from the network on its own.
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

const QUIET = [
  '--no-sandbox',
  '--headless',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** `extraArgs` after the quiet defaults (host rules, trusted keys, timer throttling …). */
export async function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  // A missing browser fails the test: a browser check that cannot run must not pass.
  if (!existsSync(CHROMIUM)) throw new Error('chromium is not installed: run npm test (it installs it)');
  return chromium.launch({ executablePath: CHROMIUM, args: [...QUIET, ...extraArgs] });
}
