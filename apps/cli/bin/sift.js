#!/usr/bin/env node
// The `sift` command. The TypeScript sources build to ../dist (`pnpm build` at the repository root).
import { main } from '../dist/index.js';

process.exitCode = await main(process.argv);
