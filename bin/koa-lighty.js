#!/usr/bin/env node
// The command users type. It runs the compiled code in dist/ (built by `npm run build`,
// which `npm start` and `npm test` do first).
import { main } from '../dist/server/cli.js';

main(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code;
  },
  (err) => {
    console.error(`koa-lighty: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
