#!/usr/bin/env node
// The `fjord` command. Runs the built CLI (npm run build first), so what is
// tested in multi-process tests is what ships.
import { main } from '../dist/index.js';

process.exitCode = await main(process.argv.slice(2));
