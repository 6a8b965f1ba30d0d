import type { Command } from 'commander';
import { runBench, type BenchResult } from '../../bench/bench.js';
import { runBenchDistributed, type DistributedBenchResult } from '../../distributed/bench.js';
import { DEFAULT_COMM_TIMEOUT_S, runDistributed } from '../distributed.js';
import { defaultInputSize } from '../../models/registry.js';
import { checkMemory } from '../checks.js';
import { addFlags, ARCH, BENCH, COMPUTE, DISTRIBUTED, OUTPUT, readFlags, RECIPE, required, withDefault } from '../flags.js';
import { UserError } from '../userError.js';

const FLAGS = {
  arch: required(ARCH.arch),
  batch: withDefault(RECIPE.batch, 128),
  mode: withDefault(BENCH.mode, 'train'),
  steps: withDefault(BENCH.steps, 10),
  warmup: withDefault(BENCH.warmup, 2),
  backend: withDefault(COMPUTE.backend, 'auto'),
  precision: withDefault(BENCH.precision, 'fp32'),
  bucketMb: DISTRIBUTED.bucketMb,
  ...OUTPUT,
};

export function register(program: Command): void {
  const cmd = program
    .command('bench')
    .description('throughput on random data: img/s of whole training steps (forward, loss, backward, SGD) or inference forwards');
  addFlags(cmd, FLAGS).action(async (_opts: unknown, c: Command) => {
    await runDistributed(() => {
      const f = readFlags(FLAGS, c);
      const size = defaultInputSize(f.arch);
      if (f.precision === 'int8' && f.mode !== 'infer') throw new UserError('--precision int8 goes with --mode infer (int8 is an inference path)');
      if (f.precision === 'int8' && f.backend === 'js') throw new UserError('--precision int8 runs on the oneDNN (native) backend only, not --backend js');
      // int8 holds the fp32 model while it quantizes it: the fp32 estimate bounds it.
      checkMemory({ arch: f.arch, mode: f.mode, batch: f.batch, inChannels: 3, size, classes: 10, precision: f.precision === 'int8' ? 'fp32' : f.precision, flags: `--batch ${f.batch}` });
      return f;
    }, async ({ world, speaks }, f) => {
      const progress = speaks && !f.json && process.stderr.isTTY;
      const onStep = progress
        ? (i: number, ms: number) => process.stderr.write(`\r${i < f.warmup ? 'warm-up' : 'step'} ${i + 1}/${f.warmup + f.steps}: ${ms.toFixed(0)} ms   `)
        : undefined;
      const o = { arch: f.arch, batch: f.batch, mode: f.mode, precision: f.precision, steps: f.steps, warmup: f.warmup, backend: f.backend, onStep };
      const r = world ? await runBenchDistributed(world, { ...o, bucketBytes: Math.round((f.bucketMb ?? 4) * 1048576) }) : runBench(o);
      if (progress) process.stderr.write('\n');
      if (speaks) report(r, Boolean(f.json));
    }, DEFAULT_COMM_TIMEOUT_S);
  });
}

function report(r: BenchResult | DistributedBenchResult, json: boolean): void {
  if (json) {
    console.log(JSON.stringify(r));
    return;
  }
  console.log(`${r.arch} ${r.mode} ${r.precision}, batch ${r.batch}, input ${r.input.slice(1).join('x')}, ${(r.params / 1e6).toFixed(2)}M params`);
  console.log(`backend: ${r.backend}`);
  console.log(`${r.img_per_s.toFixed(1)} img/s (median step ${r.step_ms_median.toFixed(0)} ms over ${r.steps} steps after ${r.warmup} warm-up; min ${r.step_ms_min.toFixed(0)}, max ${r.step_ms_max.toFixed(0)})`);
  console.log(`peak RSS ${r.peak_rss_mb.toFixed(0)} MiB`);
  if ('world_size' in r) {
    console.log(`distributed: ${r.world_size} ranks x batch ${r.local_batch}; ${r.gradient_mb.toFixed(1)} MiB of gradients in ${r.buckets} buckets; ` +
      `allreduce ${r.allreduce_ms_median.toFixed(1)} ms per step, of which ${r.allreduce_wait_ms_median.toFixed(1)} ms not overlapped with backward (medians)`);
  }
}
