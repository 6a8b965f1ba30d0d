#!/usr/bin/env node
// Builds the MPI addon (native/mpi/build/Release/wrn_mpi.node) when Open MPI's compiler wrapper is
// installed. It is a separate node-gyp project from the oneDNN addon, so a machine without libmpi
// still gets the oneDNN backend. Never fails an `npm install`: without mpicxx (or when the build
// breaks) it prints one line and exits 0; `--strict` (npm run build:mpi) fails loudly.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { rebuildAddon } from './node-gyp.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const strict = process.argv.includes('--strict');
const hasMpicxx = spawnSync('mpicxx', ['--showme:version'], { stdio: 'ignore' }).status === 0;

if (process.env.WRN_SKIP_MPI || !hasMpicxx) {
  console.log('Open MPI not found: multi-process training (mpirun) is unavailable; `sudo apt-get install openmpi-bin libopenmpi-dev && npm run build:mpi` adds it');
  process.exit(strict && !process.env.WRN_SKIP_MPI ? 1 : 0);
}

const status = rebuildAddon(root, { directory: 'native/mpi', strict });
if (status !== 0) {
  const msg = 'MPI addon build failed: multi-process training is unavailable (run `npm run build:mpi` to see why)';
  if (strict) {
    console.error(msg);
    process.exit(status);
  }
  console.log(msg);
  process.exit(0);
}
console.log('MPI addon built: native/mpi/build/Release/wrn_mpi.node');
