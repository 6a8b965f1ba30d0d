#!/usr/bin/env node
// Builds the oneDNN addon (build/Release/wrn_native.node) when oneDNN's headers are installed.
// Never fails an `npm install`: without oneDNN (or when the build breaks) it prints one line and
// exits 0, and the package uses the TypeScript backend. `--strict` (npm run build:native) fails loudly.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const strict = process.argv.includes('--strict');
const header = ['/usr/include/dnnl.hpp', '/usr/include/oneapi/dnnl/dnnl.hpp', '/usr/local/include/dnnl.hpp']
  .find((p) => existsSync(p));

if (process.env.WRN_SKIP_NATIVE || !header) {
  console.log('oneDNN not found: using the TypeScript backend; `sudo apt-get install libdnnl-dev && npm run build:native` for the fast one');
  process.exit(strict && !process.env.WRN_SKIP_NATIVE ? 1 : 0);
}

function nodeGyp() {
  // Inside npm lifecycle scripts npm names its own bundled node-gyp; otherwise use ours, then npx.
  if (process.env.npm_config_node_gyp && existsSync(process.env.npm_config_node_gyp)) {
    return [process.execPath, [process.env.npm_config_node_gyp]];
  }
  try {
    const require = createRequire(import.meta.url);
    return [process.execPath, [require.resolve('node-gyp/bin/node-gyp.js')]];
  } catch {
    return ['npx', ['--yes', 'node-gyp']];
  }
}

const [cmd, pre] = nodeGyp();
const extra = ['-j', 'max'];
// Build against the running Node's own headers when they are installed (no download).
const prefix = path.resolve(path.dirname(process.execPath), '..');
if (!process.env.npm_config_nodedir && existsSync(path.join(prefix, 'include/node/node_api.h'))) extra.push(`--nodedir=${prefix}`);
const r = spawnSync(cmd, [...pre, 'rebuild', ...extra], { cwd: root, stdio: strict ? 'inherit' : ['ignore', 'ignore', 'inherit'] });
if (r.status !== 0) {
  const msg = 'oneDNN addon build failed: using the TypeScript backend (run `npm run build:native` to see why)';
  if (strict) {
    console.error(msg);
    process.exit(r.status ?? 1);
  }
  console.log(msg);
  process.exit(0);
}
console.log('oneDNN addon built: build/Release/wrn_native.node');
