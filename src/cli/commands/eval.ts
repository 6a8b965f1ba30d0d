import path from 'node:path';
import type { Command } from 'commander';
import { plotConfusionMatrix } from '../../report/plots.js';
import { evaluate } from '../../inference/evaluate.js';
import { writeJsonAtomic } from '../../train/trainer.js';
import { table } from '../format.js';
import { intFlag, UserError } from '../userError.js';
import { backendOptions, useBackend, type BackendFlags } from './backendFlags.js';

interface EvalFlags extends BackendFlags {
  weights?: string;
  data?: string;
  split: string;
  valSize?: string;
  tta: string;
  batch: string;
  limit?: string;
  out?: string;
  json?: boolean;
}

export function register(program: Command): void {
  backendOptions(program
    .command('eval')
    .description('accuracy, loss, per-class accuracy and confusion matrix of trained weights on a dataset split')
    .requiredOption('--weights <file>', 'weights (.safetensors written by wrn train, or a converted file)')
    .option('--data <name|path>', "dataset (default: the one the weights were trained on)")
    .option('--split <s>', 'test | val', 'test')
    .option('--val-size <N>', 'validation hold-out used in training (default 5000, as wrn train)')
    .option('--tta <mode>', 'test-time augmentation: none | flip', 'none')
    .option('--batch <N>', 'batch size', '256')
    .option('--limit <N>', 'evaluate the first N images only')
    .option('--out <dir>', 'where to write confusion.{svg,png} and eval.json (default: next to the weights)')
    .option('--json', 'print one JSON object'))
    .action(async (f: EvalFlags) => {
      if (f.split !== 'test' && f.split !== 'val') throw new UserError(`--split: expected test or val, got '${f.split}'`);
      if (f.tta !== 'none' && f.tta !== 'flip') throw new UserError(`--tta: expected none or flip, got '${f.tta}'`);
      useBackend(f, Boolean(f.json));
      const valSize = intFlag('--val-size', f.valSize, 1);
      const r = await evaluate(f.weights!, {
        data: f.data, split: f.split, tta: f.tta as 'none' | 'flip', batch: intFlag('--batch', f.batch), limit: intFlag('--limit', f.limit),
        ...(valSize ? { valSize } : {}),
      });
      const outDir = f.out ?? path.dirname(f.weights!);
      const base = path.join(outDir, `confusion-${f.split}`);
      const labels = r.labels;
      const plots = await plotConfusionMatrix(r.confusion, labels, base, `${r.arch} on ${r.data} (${f.split}), accuracy ${(100 * r.accuracy).toFixed(2)}%`);
      const report = {
        weights: f.weights, arch: r.arch, data: r.data, split: f.split, tta: f.tta, images: r.images,
        accuracy: r.accuracy, loss: r.loss, per_class: Object.fromEntries(labels.map((l, i) => [l, r.perClass[i]])),
        confusion: r.confusion, labels, plots,
      };
      writeJsonAtomic(path.join(outDir, `eval-${f.split}.json`), report);
      if (f.json) {
        console.log(JSON.stringify(report));
        return;
      }
      console.log(`${r.arch} on ${r.data} ${f.split} (${r.images} images${f.tta === 'flip' ? ', flip TTA' : ''}): accuracy ${(100 * r.accuracy).toFixed(2)}%, loss ${r.loss.toFixed(4)}`);
      console.log('');
      console.log(table(['class', 'accuracy'], labels.map((l, i) => [l, `${(100 * r.perClass[i]).toFixed(2)}%`]), [false, true]));
      console.log('');
      console.log('confusion matrix (rows: true class, columns: predicted)');
      console.log(table(['', ...labels.map((_, i) => String(i))], r.confusion.map((row, i) => [`${i} ${labels[i]}`, ...row.map(String)]), [false, ...labels.map(() => true)]));
      console.log(`\nwrote ${plots.svg}, ${plots.png}`);
    });
}
