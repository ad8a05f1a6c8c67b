#!/usr/bin/env node
// The `fjord` command. Runs the built CLI (npm run build first), so what is
// tested in multi-process tests is what ships.
import { main } from '../dist/index.js';

// `fjord consume t | head -3`: the reader left, so there is nobody to print
// to; end quietly, as a tool killed by SIGPIPE would, instead of an
// unhandled EPIPE stack.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

process.exitCode = await main(process.argv.slice(2));
