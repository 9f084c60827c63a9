// Node 24 LTS, the second runtime of the suite: pinned here for scripts/setup.mjs (which
// installs it from npm) and scripts/test.mjs (which runs the suite on it).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const NODE_24 = '24.21.0';
export const NODE_24_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '.tools', `node-${NODE_24}`);
export const NODE_24_BIN = join(NODE_24_DIR, 'node_modules', '.bin', 'node');
