#!/usr/bin/env node
/** The `dgm` executable: runs the command line and exits with its code. */
import { main } from './program.js';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`dgm: error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
