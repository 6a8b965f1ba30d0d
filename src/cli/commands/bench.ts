import type { Command } from 'commander';
import type { Precision } from '../../backend/backend.js';
import { MetaBackend } from '../../backend/meta.js';
import { runBench, type BenchMode } from '../../bench/bench.js';
import { withBackend } from '../../core/engine.js';
import { createModel } from '../../models/registry.js';
import { intFlag, UserError } from '../userError.js';

interface BenchFlags {
  arch?: string;
  batch?: string;
  mode?: string;
  precision?: string;
  steps?: string;
  warmup?: string;
  backend?: string;
  json?: boolean;
}

function oneOf<T extends string>(flag: string, value: string | undefined, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value)) throw new UserError(`${flag}: expected one of ${allowed.join(', ')}, got '${value}'`);
  return value as T;
}

export function register(program: Command): void {
  program
    .command('bench')
    .description('throughput on random data: img/s of whole training steps (forward, loss, backward, SGD) or inference forwards')
    .option('--arch <name>', 'architecture (wrn-16-4, wrn-28-10, ...)')
    .option('--batch <N>', 'batch size (default 128)')
    .option('--mode <m>', 'train | infer (default train)')
    .option('--precision <p>', 'fp32 | bf16 (default fp32; bf16 needs the native backend)')
    .option('--steps <N>', 'measured steps (default 10)')
    .option('--warmup <N>', 'warm-up steps, not measured (default 2)')
    .option('--backend <b>', 'auto | js | native (default auto: native when it loads)')
    .option('--json', 'print one JSON object')
    .action((f: BenchFlags) => {
      if (!f.arch) throw new UserError('--arch is required (e.g. --arch wrn-16-4)');
      withBackend(new MetaBackend(), () => createModel(f.arch!)); // a bad name fails here, before any work
      const mode = oneOf<BenchMode>('--mode', f.mode, ['train', 'infer'], 'train');
      const precision = oneOf<Precision>('--precision', f.precision, ['fp32', 'bf16'], 'fp32');
      const backend = oneOf('--backend', f.backend, ['auto', 'js', 'native'] as const, 'auto');
      const batch = intFlag('--batch', f.batch) ?? 128;
      const steps = intFlag('--steps', f.steps) ?? 10;
      const warmup = intFlag('--warmup', f.warmup, 0) ?? 2;
      const progress = !f.json && process.stderr.isTTY;
      const r = runBench({
        arch: f.arch, batch, mode, precision, steps, warmup, backend,
        onStep: progress ? (i, ms) => process.stderr.write(`\r${i < warmup ? 'warm-up' : 'step'} ${i + 1}/${warmup + steps}: ${ms.toFixed(0)} ms   `) : undefined,
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
