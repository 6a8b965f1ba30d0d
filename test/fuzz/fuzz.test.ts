/**
 * A short run of the structure-aware fuzzer (test/fuzz/targets.ts) inside the test suite: a few hundred
 * mutated files per reader, every outcome acceptance or that reader's own one-line error naming the
 * file. The 10,000-case run and its counts: docs/results/fuzz (node dist/test/fuzz/run.js).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runTarget } from './fuzz.js';
import { TARGETS } from './targets.js';

const CASES = Number(process.env.WRN_FUZZ_CASES ?? 200);

for (const target of TARGETS) {
  test(`fuzz ${target.name}: ${CASES} mutated files, each accepted or refused cleanly`, { timeout: 300_000 }, async () => {
    // A seed per reader, so a short run still sees different cases than the long run's first ones.
    const r = await runTarget(target, CASES, 1000 + TARGETS.indexOf(target));
    assert.deepEqual(r.escapes, [], `${r.escaped} escapes`);
    assert.equal(r.slow, 0, `slowest case ${r.slowestMs} ms`);
    assert.ok(r.refused > 0, 'the mutations reach the reader\'s checks');
  });
}
