#!/usr/bin/env node
// Ring-allreduce cost model for data-parallel training on N machines: each step moves
// 2(N-1)/N x the fp32 gradient bytes through every machine's link. For a fixed global batch, the
// compute per machine shrinks as 1/N, so communication (counted as not overlapped: the worst case)
// passes 10% of a step at some N. Writes docs/results/mpi/cost-model.json.
// usage: node scripts/mpi-cost-model.mjs [--wrn28-img-s R]   (after npm run build)
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { createModel } from '../dist/src/models/registry.js';
import { summarize } from '../dist/src/models/summary.js';
import { withBackend } from '../dist/src/core/engine.js';
import { MetaBackend } from '../dist/src/backend/meta.js';

// Single-machine training rate of WRN-28-10 (fp32): by default the median of the single-process rounds
// of `node scripts/bench-mpi.mjs wrn-28-10 ...` on this machine (docs/results/mpi/bench-wrn-28-10.json);
// --wrn28-img-s R models another machine. WRN-50-2 is scaled from it by MACs per image (an estimate).
const BENCH = 'docs/results/mpi/bench-wrn-28-10.json';
function measuredRate() {
  const b = JSON.parse(readFileSync(BENCH, 'utf8'));
  const r = [...b.summary.single_img_per_s].sort((x, y) => x - y);
  return { rate: r[Math.floor(r.length / 2)], source: `measured: median of ${r.length} single-process rounds, batch ${b.batch}, ${BENCH}` };
}
const flagAt = process.argv.indexOf('--wrn28-img-s');
const given = flagAt > 0 ? Number(process.argv[flagAt + 1]) : NaN;
if (flagAt > 0 && !(given > 0)) {
  console.error(`mpi-cost-model: --wrn28-img-s needs a positive number, got '${process.argv[flagAt + 1]}'`);
  process.exit(1);
}
const { rate: WRN28_IMG_S, source: WRN28_SOURCE } = flagAt > 0 ? { rate: given, source: 'given (--wrn28-img-s)' } : measuredRate();
const nets = [
  { arch: 'wrn-28-10', classes: 10, input: 32, globalBatch: 128 },
  { arch: 'wide-resnet50-2', classes: 1000, input: 224, globalBatch: 256 },
];
const rows = [];
let wrn28Macs = 0;
for (const n of nets) {
  const info = withBackend(new MetaBackend(), () => {
    const m = createModel(n.arch, { classes: n.classes });
    return { params: m.numParameters(), macs: summarize(m, n.input).macs };
  });
  if (n.arch === 'wrn-28-10') wrn28Macs = info.macs;
  const imgPerS = n.arch === 'wrn-28-10' ? WRN28_IMG_S : (WRN28_IMG_S * wrn28Macs) / info.macs;
  const gradBytes = info.params * 4;
  const t1 = n.globalBatch / imgPerS; // one machine, whole global batch
  for (const gbps of [10, 25]) {
    const full = (gradBytes * 8 * 2) / (gbps * 1e9); // 2 x gradient over the link, the N -> infinity limit
    const comm = (N) => (full * (N - 1)) / N;
    let n10 = null;
    for (let N = 2; N <= 4096; N++) if (comm(N) > (comm(N) + t1 / N) * 0.1) { n10 = N; break; }
    rows.push({
      arch: n.arch, params: info.params, grad_mb: gradBytes / 1e6, macs_per_image: info.macs, img_per_s_one_machine: +imgPerS.toFixed(2),
      img_per_s_source: n.arch === 'wrn-28-10' ? WRN28_SOURCE : 'estimated from WRN-28-10 by MACs', global_batch: n.globalBatch,
      link_gbps: gbps, allreduce_s_per_step_large_n: +full.toFixed(4), compute_s_per_step_one_machine: +t1.toFixed(2),
      comm_exceeds_10pct_from_n: n10,
      comm_fraction: Object.fromEntries([2, 4, 8, 16, 32, 64].map((N) => [N, +(comm(N) / (comm(N) + t1 / N)).toFixed(3)])),
    });
  }
}
mkdirSync('docs/results/mpi', { recursive: true });
writeFileSync('docs/results/mpi/cost-model.json', `${JSON.stringify(rows, null, 2)}\n`);
for (const r of rows) console.log(`${r.arch} ${r.grad_mb.toFixed(1)} MB @ ${r.link_gbps} Gb/s: allreduce ${r.allreduce_s_per_step_large_n} s/step (large N), one machine ${r.compute_s_per_step_one_machine} s per global batch of ${r.global_batch}; comm > 10% from N = ${r.comm_exceeds_10pct_from_n}; fractions ${JSON.stringify(r.comm_fraction)}`);
