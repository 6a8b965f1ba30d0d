import path from 'node:path';
import type { Command } from 'commander';
import { ACTIVATIONS } from '../../backend/backend.js';
import { runCompare, type Recipe } from '../../compare/compare.js';
import { TABLE_HEADER, tableRows, writeReport } from '../../compare/report.js';
import { parseArch } from '../../models/registry.js';
import { countArch } from '../../plan/candidates.js';
import { PAPER_DEFAULTS } from '../../train/trainer.js';
import { table } from '../format.js';
import { intFlag, numberFlag, UserError } from '../userError.js';
import { resolveTrainConfig, type TrainFlags } from './train.js';


/** `wrn train`'s flags (passed through as the shared recipe) plus the comparison's own. */
interface CompareFlags extends Omit<TrainFlags, 'arch' | 'resume' | 'config' | 'seed'> {
  archs?: string;
  minutes?: string;
  seeds?: string;
}

const pct = (x: number | null | undefined): string => (x === null || x === undefined || Number.isNaN(x) ? '-' : `${(100 * x).toFixed(2)}%`);

/** The shared recipe from the pass-through train flags, validated by `wrn train`'s own resolver. */
function recipeFrom(f: CompareFlags, arch: string, data: string): Partial<Recipe> {
  const { archs: _archs, minutes: _minutes, seeds: _seeds, epochs: _epochs, out: _out, ...trainFlags } = f;
  const cfg = resolveTrainConfig({ ...trainFlags, arch, data });
  const { arch: _a, data: _d, out: _o, seed: _s, epochs: _e, dropout: _dr, ...recipe } = cfg;
  const dropout = numberFlag('--dropout', f.dropout, 0, 0.99);
  return { ...recipe, ...(dropout !== undefined ? { dropout } : {}) };
}

function parseList(flag: string, v: string): string[] {
  const items = v.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new UserError(`${flag}: expected a comma-separated list, got '${v}'`);
  return items;
}

export function register(program: Command): void {
  program
    .command('compare')
    .description('width or depth? train several architectures x seeds with one recipe and data split, then tabulate and plot ' +
      'params, MACs, img/s, wall time, accuracy and the train-test gap (resumable: finished runs are skipped)')
    .option('--archs <list>', 'comma-separated architectures, e.g. wrn-16-4,wrn-40-2,preact-resnet-110')
    .option('--data <name|path>', 'fashion-mnist, mnist, cifar10, cifar100, an image folder or a .safetensors file')
    .option('--epochs <N>', 'epochs per run')
    .option('--minutes <M>', 'wall-time budget per run: each architecture gets the epoch count that a short timing says fits ' +
      '(the schedule completes; runs are not cut)')
    .option('--seeds <list>', 'comma-separated seeds (init, shuffling, augmentation, dropout)', '0')
    .option('--out <dir>', 'comparison directory (default runs/compare-<data>)')
    .option('--batch <N>', `batch size (default ${PAPER_DEFAULTS.batch})`)
    .option('--lr <x>', `initial learning rate (default ${PAPER_DEFAULTS.lr})`)
    .option('--schedule <name>', 'paper | cosine | onecycle (default paper)')
    .option('--warmup <E>', 'linear warm-up epochs (default 0)')
    .option('--dropout <p>', 'dropout in the WRN blocks (default 0.3; the pre-activation ResNets have none)')
    .option('--wd <x>', `weight decay (default ${PAPER_DEFAULTS.wd})`)
    .option('--label-smoothing <x>', 'label smoothing (default 0)')
    .option('--activation <name>', `activation: ${ACTIVATIONS.join(', ')} (default relu)`)
    .option('--limit <N>', 'train on the first N training images only (0: all)')
    .option('--eval-limit <N>', 'evaluate on the first N validation/test images only (0: all)')
    .option('--val-size <N>', `training images held out for validation (default ${PAPER_DEFAULTS.valSize}; 0: none)`)
    .option('--crop <P>', 'random-crop padding in pixels (default 4; 0: off)')
    .option('--pad <mode>', 'crop padding: reflect | zero (default reflect)')
    .option('--no-flip', 'no random horizontal flips')
    .option('--cutout <S>', 'Cutout square size in pixels (default 0: off)')
    .option('--precision <p>', 'fp32 | bf16 (bf16 needs the native backend)')
    .option('--backend <b>', 'auto | js | native (default auto: native when it loads)')
    .option('--workers <N>', 'augmentation worker threads (default 1; 0: main thread)')
    .action(async (f: CompareFlags) => {
      if (!f.archs) throw new UserError('--archs is required (e.g. --archs wrn-16-4,wrn-40-2)');
      if (!f.data) throw new UserError('--data is required (fashion-mnist, cifar10, cifar100, or a folder / file)');
      const archs = parseList('--archs', f.archs);
      for (const a of archs) {
        try {
          countArch(a);
        } catch (e) {
          throw new UserError(`--archs: ${(e as Error).message}`);
        }
      }
      const seeds = parseList('--seeds', f.seeds ?? '0').map((s) => intFlag('--seeds', s, 0)!);
      if ((f.epochs === undefined) === (f.minutes === undefined)) throw new UserError('give exactly one of --epochs N and --minutes M');
      const epochs = intFlag('--epochs', f.epochs);
      const minutes = numberFlag('--minutes', f.minutes, 0);
      if (minutes !== undefined && minutes <= 0) throw new UserError(`--minutes: expected a positive number, got '${f.minutes}'`);
      const out = f.out ?? path.join('runs', `compare-${path.basename(f.data).replace(/\W+/g, '-')}`);
      const recipe = recipeFrom(f, archs[0]!, f.data);
      const nonWrn = archs.filter((a) => parseArch(a).family !== 'wrn');
      if (recipe.dropout && nonWrn.length) console.log(`note: --dropout applies to the WRNs only; ${nonWrn.join(', ')} train without dropout`);

      const { state, runs } = await runCompare({
        archs, data: f.data, seeds, epochs, minutes, out, recipe,
        events: {
          info: (line) => console.log(line),
          runSkip: (r) => console.log(`[${r.index}/${r.total}] ${r.arch} seed ${r.seed}: finished earlier, skipped (${r.dir})`),
          runStart: (r) => console.log(`[${r.index}/${r.total}] ${r.arch} seed ${r.seed}: ${r.resumed ? 'resuming' : 'training'} ` +
            `${r.epochs} epoch${r.epochs === 1 ? '' : 's'} in ${r.dir}`),
          epochEnd: (r, m) => console.log(`  ${r.arch} seed ${r.seed} epoch ${m.epoch}/${r.epochs}: train loss ${m.train_loss.toFixed(4)} ` +
            `acc ${pct(m.train_acc)} | val acc ${pct(m.val_acc)} | ${m.seconds.toFixed(1)} s, ${m.img_per_s.toFixed(1)} img/s`),
          runEnd: (s) => console.log(`  ${s.arch} seed ${s.seed}: best val acc ${pct(s.bestValAcc)}, test acc ${pct(s.testAcc)}`),
        },
      });
      const report = await writeReport(out, state, runs);
      console.log('');
      console.log(table(TABLE_HEADER, tableRows(report.summary), TABLE_HEADER.map((_, i) => i > 0)));
      console.log('');
      console.log('mean ± std over seeds; test acc with the best-by-validation weights; gap = last-epoch train acc - test acc (overfitting)');
      console.log(`wrote ${report.files.markdown}, ${report.files.json}`);
      for (const [title, p] of Object.entries(report.plots)) console.log(`plot (${title}): ${p.svg}, ${p.png}`);
      for (const e of report.plotErrors) console.log(`warning: plot not drawn: ${e}`);
    });
}
