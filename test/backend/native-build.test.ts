/**
 * The addon loads on any x86-64: our own C++ is compiled for the baseline ISA (no -march), so its
 * machine code uses no AVX registers; oneDNN (a separate library) picks its kernels by CPU at run time.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { nativeAddonBuilt, nativeAddonPath } from '../../src/backend/native/index.js';

const objdump = spawnSync('objdump', ['--version']).status === 0;
const skip = process.arch !== 'x64' ? 'not x86-64'
  : !nativeAddonBuilt() ? 'native addon not built'
  : !objdump ? 'objdump not installed' : false;

test('the addon\'s own code uses no AVX/AVX-512 instructions (built for baseline x86-64)', { skip }, () => {
  const r = spawnSync('objdump', ['-d', '--no-show-raw-insn', nativeAddonPath()], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  assert.equal(r.status, 0, r.stderr);
  // ymm/zmm registers, or VEX-encoded (v-prefixed) instructions on xmm registers.
  const avx = r.stdout.split('\n').filter((l) => /%[yz]mm\d/.test(l) || /:\s+v\w+\s.*%xmm\d/.test(l));
  assert.equal(avx.length, 0, `AVX instructions in the addon, e.g.:\n${avx.slice(0, 5).join('\n')}`);
});
