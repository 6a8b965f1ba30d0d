import path from 'node:path';
import type { Command } from 'commander';
import { runCompare } from '../../compare/compare.js';
import { TABLE_HEADER, tableRows, writeReport } from '../../compare/report.js';
import { parseArch } from '../../models/registry.js';
import { table } from '../format.js';
import { checkMemory, expectedInput } from '../checks.js';
import { addFlags, COMPARE, COMPUTE, CONFIG, DATA, readFlags, RECIPE, withDefault } from '../flags.js';
import { recipeFrom } from '../recipe.js';
import { UserError } from '../userError.js';

/** The shared recipe (every RECIPE flag but --seed: the comparison has --seeds), data and compute groups. */
const { seed: _seed, ...RECIPE_BUT_SEED } = RECIPE;
const FLAGS = { ...COMPARE, seeds: withDefault(COMPARE.seeds, [0]), ...DATA, ...RECIPE_BUT_SEED, ...COMPUTE, ...CONFIG };

const pct = (x: number | null | undefined): string => (x === null || x === undefined || Number.isNaN(x) ? '-' : `${(100 * x).toFixed(2)}%`);

export function register(program: Command): void {
  const cmd = program
    .command('compare')
    .description('width or depth? train several architectures x seeds with one recipe and data split, then tabulate and plot ' +
      'params, MACs, img/s, wall time, accuracy and the train-test gap (resumable: finished runs are skipped)');
  addFlags(cmd, FLAGS)
    .action(async (_opts: unknown, c: Command) => {
      const f = readFlags(FLAGS, c);
      if (!f.archs) throw new UserError('--archs is required (e.g. --archs wrn-16-4,wrn-40-2)');
      if (!f.data) throw new UserError('--data is required (fashion-mnist, cifar10, cifar100, or a folder / file)');
      const { archs, data, seeds, minutes } = f;
      if ((f.epochs === undefined) === (minutes === undefined)) throw new UserError('give exactly one of --epochs N and --minutes M');
      const { seed: _s, epochs: _e, ...recipe } = recipeFrom({ ...f, seed: undefined });
      const epochs = f.epochs;
      const input = expectedInput(data, f.imageSize, f.channels);
      for (const arch of archs) {
        checkMemory({ arch, mode: 'train', batch: recipe.batch, ...input, classes: 10, precision: recipe.precision, flags: `--batch ${recipe.batch}` });
      }
      const out = f.out ?? path.join('runs', `compare-${path.basename(data).replace(/\W+/g, '-')}`);
      const nonWrn = archs.filter((a) => parseArch(a).family !== 'wrn');
      if (recipe.dropout && nonWrn.length) console.log(`note: --dropout applies to the WRNs only; ${nonWrn.join(', ')} train without dropout`);

      const { state, runs } = await runCompare({
        archs, data, seeds, epochs, minutes, out, recipe,
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
