import path from 'node:path';
import type { Command } from 'commander';
import { plotConfusionMatrix } from '../../report/plots.js';
import { evaluate } from '../../inference/evaluate.js';
import { writeJsonAtomic } from '../../train/trainer.js';
import { table } from '../format.js';
import { addFlags, COMPUTE, EVAL, OUTPUT, readFlags, required, withDefault } from '../flags.js';
import { useBackend } from '../useBackend.js';

const FLAGS = {
  ...EVAL,
  weights: required(EVAL.weights),
  split: withDefault(EVAL.split, 'test'),
  tta: withDefault(EVAL.tta, 'none'),
  batch: withDefault(EVAL.batch, 256),
  ...COMPUTE,
  ...OUTPUT,
};

export function register(program: Command): void {
  const cmd = program
    .command('eval')
    .description('accuracy, loss, per-class accuracy and confusion matrix of trained weights on a dataset split');
  addFlags(cmd, FLAGS)
    .action(async (_opts: unknown, c: Command) => {
      const f = readFlags(FLAGS, c);
      const notice = useBackend(f);
      const r = await evaluate(f.weights, {
        data: f.data, split: f.split, tta: f.tta, batch: f.batch, limit: f.limit,
        ...(f.valSize ? { valSize: f.valSize } : {}),
      });
      if (!f.json) console.error(notice);
      const baseline = f.fp32 ? await evaluate(f.fp32, {
        data: f.data ?? r.data, split: f.split, tta: f.tta, batch: f.batch, limit: f.limit,
        ...(f.valSize ? { valSize: f.valSize } : {}),
      }) : null;
      const change = baseline ? { fp32_weights: f.fp32, fp32_accuracy: baseline.accuracy, accuracy_change_points: 100 * (r.accuracy - baseline.accuracy) } : {};
      const outDir = f.out ?? path.dirname(f.weights);
      const base = path.join(outDir, `confusion-${f.split}`);
      const labels = r.labels;
      const plots = await plotConfusionMatrix(r.confusion, labels, base, `${r.arch} on ${r.data} (${f.split}), accuracy ${(100 * r.accuracy).toFixed(2)}%`);
      const report = {
        weights: f.weights, arch: r.arch, data: r.data, split: f.split, tta: f.tta, images: r.images,
        accuracy: r.accuracy, loss: r.loss, per_class: Object.fromEntries(labels.map((l, i) => [l, r.perClass[i]])),
        confusion: r.confusion, labels, plots, ...change,
      };
      writeJsonAtomic(path.join(outDir, `eval-${f.split}.json`), report);
      if (f.json) {
        console.log(JSON.stringify(report));
        return;
      }
      console.log(`${r.arch} on ${r.data} ${f.split} (${r.images} images${f.tta === 'flip' ? ', flip TTA' : ''}): accuracy ${(100 * r.accuracy).toFixed(2)}%, loss ${r.loss.toFixed(4)}`);
      if (baseline) {
        const d = 100 * (r.accuracy - baseline.accuracy);
        console.log(`fp32 weights ${f.fp32}: accuracy ${(100 * baseline.accuracy).toFixed(2)}%, loss ${baseline.loss.toFixed(4)}; change ${d >= 0 ? '+' : ''}${d.toFixed(2)} points`);
      }
      console.log('');
      console.log(table(['class', 'accuracy'], labels.map((l, i) => [l, `${(100 * r.perClass[i]).toFixed(2)}%`]), [false, true]));
      console.log('');
      console.log('confusion matrix (rows: true class, columns: predicted)');
      console.log(table(['', ...labels.map((_, i) => String(i))], r.confusion.map((row, i) => [`${i} ${labels[i]}`, ...row.map(String)]), [false, ...labels.map(() => true)]));
      console.log(`\nwrote ${plots.svg}, ${plots.png}`);
    });
}
