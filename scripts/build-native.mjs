#!/usr/bin/env node
// Builds the oneDNN addon (build/Release/wrn_native.node) when oneDNN's headers are installed.
// Never fails an `npm install`: without oneDNN (or when the build breaks) it prints one line and
// exits 0, and the package uses the TypeScript backend. `--strict` (npm run build:native) fails loudly.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { rebuildAddon } from './node-gyp.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const strict = process.argv.includes('--strict');
const header = ['/usr/include/dnnl.hpp', '/usr/include/oneapi/dnnl/dnnl.hpp', '/usr/local/include/dnnl.hpp']
  .find((p) => existsSync(p));

if (process.env.WRN_SKIP_NATIVE || !header) {
  console.log('oneDNN not found: using the TypeScript backend; `sudo apt-get install libdnnl-dev && npm run build:native` for the fast one');
  process.exit(strict && !process.env.WRN_SKIP_NATIVE ? 1 : 0);
}

const status = rebuildAddon(root, { strict, extra: ['-j', 'max'] });
if (status !== 0) {
  const msg = 'oneDNN addon build failed: using the TypeScript backend (run `npm run build:native` to see why)';
  if (strict) {
    console.error(msg);
    process.exit(status);
  }
  console.log(msg);
  process.exit(0);
}
console.log('oneDNN addon built: build/Release/wrn_native.node');
