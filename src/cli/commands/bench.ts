import type { Command } from 'commander';
import { runBench } from '../../bench/bench.js';
import { defaultInputSize } from '../../models/registry.js';
import { checkMemory } from '../checks.js';
import { addFlags, ARCH, BENCH, COMPUTE, OUTPUT, readFlags, RECIPE, required, withDefault } from '../flags.js';

const FLAGS = {
  arch: required(ARCH.arch),
  batch: withDefault(RECIPE.batch, 128),
  mode: withDefault(BENCH.mode, 'train'),
  steps: withDefault(BENCH.steps, 10),
  warmup: withDefault(BENCH.warmup, 2),
  backend: withDefault(COMPUTE.backend, 'auto'),
  precision: withDefault(COMPUTE.precision, 'fp32'),
  ...OUTPUT,
};

export function register(program: Command): void {
  const cmd = program
    .command('bench')
    .description('throughput on random data: img/s of whole training steps (forward, loss, backward, SGD) or inference forwards');
  addFlags(cmd, FLAGS).action((_opts: unknown, c: Command) => {
    const f = readFlags(FLAGS, c);
    const size = defaultInputSize(f.arch);
    checkMemory({ arch: f.arch, mode: f.mode, batch: f.batch, inChannels: 3, size, classes: 10, precision: f.precision, flags: `--batch ${f.batch}` });
    const progress = !f.json && process.stderr.isTTY;
    const r = runBench({
      arch: f.arch, batch: f.batch, mode: f.mode, precision: f.precision, steps: f.steps, warmup: f.warmup, backend: f.backend,
      onStep: progress ? (i, ms) => process.stderr.write(`\r${i < f.warmup ? 'warm-up' : 'step'} ${i + 1}/${f.warmup + f.steps}: ${ms.toFixed(0)} ms   `) : undefined,
    });
    if (progress) process.stderr.write('\n');
    if (f.json) {
      console.log(JSON.stringify(r));
      return;
    }
    console.log(`${r.arch} ${r.mode} ${r.precision}, batch ${r.batch}, input ${r.input.slice(1).join('x')}, ${(r.params / 1e6).toFixed(2)}M params`);
    console.log(`backend: ${r.backend}`);
    console.log(`${r.img_per_s.toFixed(1)} img/s (median step ${r.step_ms_median.toFixed(0)} ms over ${r.steps} steps after ${r.warmup} warm-up; min ${r.step_ms_min.toFixed(0)}, max ${r.step_ms_max.toFixed(0)})`);
    console.log(`peak RSS ${r.peak_rss_mb.toFixed(0)} MiB`);
  });
}
