#!/usr/bin/env node
// 1 process x T threads against N ranks x T/N threads (mpirun) for `wrn bench --mode train`, in
// alternating rounds (so a busy machine's load hits both alike). Writes every round's JSON and a
// summary to docs/results/mpi/bench-<arch>.json.
// usage: node scripts/bench-mpi.mjs ARCH BATCH STEPS WARMUP ROUNDS [NP]
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';

const [arch = 'wrn-16-4', batch = '64', steps = '5', warmup = '2', rounds = '3', np = '2'] = process.argv.slice(2);
const cores = os.availableParallelism();
const args = ['bin/wrn.js', 'bench', '--arch', arch, '--batch', batch, '--steps', steps, '--warmup', warmup, '--json'];
const env = { ...process.env, OMPI_ALLOW_RUN_AS_ROOT: '1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1' };

function run(cmd, argv, extraEnv) {
  const t0 = Date.now();
  const r = spawnSync(cmd, argv, { env: { ...env, ...extraEnv }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
  const line = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  return { ...JSON.parse(line), wall_s: (Date.now() - t0) / 1000, load1: os.loadavg()[0] };
}

const out = { arch, batch: Number(batch), steps: Number(steps), warmup: Number(warmup), cores, np: Number(np), rounds: [] };
for (let i = 0; i < Number(rounds); i++) {
  const single = run(process.execPath, args, { OMP_NUM_THREADS: String(cores) });
  const multi = run('mpirun', ['-np', np, '--bind-to', 'core', '--map-by', 'core', process.execPath, ...args],
    { OMP_NUM_THREADS: String(Math.max(1, Math.floor(cores / Number(np)))) });
  out.rounds.push({ single, multi, ratio: multi.img_per_s / single.img_per_s });
  console.log(`round ${i + 1}: 1 x ${cores} threads ${single.img_per_s.toFixed(1)} img/s | ${np} ranks ${multi.img_per_s.toFixed(1)} img/s ` +
    `(allreduce ${multi.allreduce_ms_median.toFixed(0)} ms/step, ${multi.allreduce_wait_ms_median.toFixed(0)} ms not overlapped) | ratio ${(multi.img_per_s / single.img_per_s).toFixed(2)} | load ${single.load1.toFixed(1)}`);
}
const ratios = out.rounds.map((r) => r.ratio).sort((a, b) => a - b);
out.summary = {
  ratio_median: ratios[ratios.length >> 1], ratio_min: ratios[0], ratio_max: ratios[ratios.length - 1],
  single_img_per_s: out.rounds.map((r) => r.single.img_per_s), multi_img_per_s: out.rounds.map((r) => r.multi.img_per_s),
  allreduce_ms: out.rounds.map((r) => r.multi.allreduce_ms_median), allreduce_wait_ms: out.rounds.map((r) => r.multi.allreduce_wait_ms_median),
  load1: out.rounds.map((r) => r.single.load1), measured_at: new Date().toISOString(),
};
console.log(JSON.stringify(out.summary));
mkdirSync('docs/results/mpi', { recursive: true });
writeFileSync(`docs/results/mpi/bench-${arch}.json`, `${JSON.stringify(out, null, 2)}\n`);
