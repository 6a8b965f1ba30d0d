import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { MetaBackend } from '../../backend/meta.js';
import { withBackend } from '../../core/engine.js';
import { createModel, parseArch } from '../../models/registry.js';
import { PAPER_DEFAULTS, train, type TrainConfig, type TrainEvents } from '../../train/trainer.js';
import { checkGlobalBatch, type World } from '../../distributed/world.js';
import { DEFAULT_COMM_TIMEOUT_S, describeWorld, runDistributed } from '../distributed.js';
import { checkMemory, checkResumeFlags, claimRunDir, expectedInput, readSavedConfig } from '../checks.js';
import { addFlags, ARCH, COMPUTE, CONFIG, DATA, DISTRIBUTED, FINETUNE, givenNames, readFlags, RECIPE, RUN, type Values } from '../flags.js';
import { recipeFrom } from '../recipe.js';
import { UserError } from '../userError.js';

const FLAGS = { ...ARCH, ...DATA, ...RECIPE, ...FINETUNE, ...COMPUTE, ...RUN, ...CONFIG, ...DISTRIBUTED };

/** The run's TrainConfig: flags over --config over the paper's defaults, checked against the memory it needs. */
export function trainConfig(f: Values<typeof FLAGS>): TrainConfig {
  const { arch, data } = f;
  if (!arch) throw new UserError('--arch is required (e.g. --arch wrn-16-4)');
  if (!data) throw new UserError('--data is required (fashion-mnist, cifar10, cifar100, or a folder / file)');
  const recipe = recipeFrom(f);
  const dropout = recipe.dropout ?? (parseArch(arch).family === 'wrn' ? PAPER_DEFAULTS.dropout : 0);
  try {
    withBackend(new MetaBackend(), () => createModel(arch, { dropout }));
  } catch (e) {
    throw new UserError(`--dropout ${dropout}: ${(e as Error).message}`);
  }
  const input = expectedInput(data, f.imageSize, f.channels);
  const sized = f.imageSize !== undefined ? ` with --image-size ${f.imageSize}` : '';
  checkMemory({ arch, mode: 'train', batch: recipe.batch, ...input, classes: 10, precision: recipe.precision, flags: `--batch ${recipe.batch}${sized}` });
  const out = f.out ?? path.join('runs', `${arch}-${path.basename(data).replace(/\W+/g, '-')}`);
  if (f.init !== undefined && !existsSync(f.init)) throw new UserError(`--init ${f.init}: no such weights file`);
  const finetune = { init: f.init ?? PAPER_DEFAULTS.init, freezeStages: f.freezeStages ?? PAPER_DEFAULTS.freezeStages, headLrMult: f.headLrMult ?? PAPER_DEFAULTS.headLrMult };
  return { ...recipe, ...finetune, dropout, arch, data, out };
}

const pct = (x: number | null | undefined): string => (x === null || x === undefined || Number.isNaN(x) ? '-' : `${(100 * x).toFixed(2)}%`);

export function register(program: Command): void {
  const cmd = program
    .command('train')
    .description("train a WRN with the paper's recipe (SGD Nesterov 0.9, lr 0.1 x0.2 at 30/60/80%, wd 5e-4, batch 128, crop+flip)");
  addFlags(cmd, FLAGS)
    .action(async (_opts: unknown, c: Command) => {
      await runDistributed(() => {
        const f = readFlags(FLAGS, c);
        if (f.resume) checkResumeFlags(f.resume, givenNames(FLAGS, c));
        return { f, cfg: f.resume ? null : trainConfig(f) };
      }, async ({ world, speaks }, { f, cfg: fresh }) => {
        const cfg = fresh ?? (world ? world.fromRootJson(() => resumeConfig(f)) : resumeConfig(f));
        // The run directory belongs to rank 0 (it alone writes it, and --overwrite empties it).
        if (fresh) (world ? world.fromRootJson(() => claimRunDir(fresh.out, Boolean(f.overwrite))) : claimRunDir(fresh.out, Boolean(f.overwrite)));
        if (world) checkGlobalBatch(world, cfg.batch);
        if (world && speaks) console.log(describeWorld(world, cfg.batch) + (cfg.syncBn ? ', sync-bn' : ''));
        await trainCommand(cfg, Boolean(f.resume), speaks, world, Math.round((f.bucketMb ?? 4) * 1048576));
      }, f0(c).commTimeout ?? DEFAULT_COMM_TIMEOUT_S);
    });
}

/** The time limit is needed before the world starts; a malformed value fails in readFlags (prepare) first. */
function f0(c: Command): { commTimeout?: number } {
  try {
    return { commTimeout: readFlags(FLAGS, c).commTimeout };
  } catch {
    return {};
  }
}

/** The saved configuration of the run being resumed: only how it runs may change (--backend, --workers), not what it computes. */
function resumeConfig(f: Values<typeof FLAGS>): TrainConfig {
  const dir = f.resume as string;
  const overrides = { ...(f.backend ? { backend: f.backend } : {}), ...(f.workers !== undefined ? { workers: f.workers } : {}) };
  return { ...readSavedConfig(dir, FLAGS, overrides), out: dir };
}

async function trainCommand(cfg: TrainConfig, resume: boolean, speaks: boolean, world: World | null, bucketBytes: number): Promise<void> {
  const bar = new cliProgress.SingleBar({
    format: ' epoch {epoch} |{bar}| {value}/{total} | {ips} img/s | loss {loss} | acc {acc} | lr {lr} | ETA {eta_formatted}',
    hideCursor: true, noTTYOutput: !process.stderr.isTTY, notTTYSchedule: 10000, etaBuffer: 50,
  }, cliProgress.Presets.shades_classic);
  let epochNo = 0;
  const events: TrainEvents = speaks ? {
    info: (line) => console.log(line),
    epochStart: (epoch, batches, lr) => {
      epochNo = epoch + 1;
      bar.start(batches, 0, { epoch: `${epochNo}/${cfg.epochs}`, ips: '-', loss: '-', acc: '-', lr: lr.toPrecision(3) });
    },
    batchEnd: (b) => bar.update(b.batch, { ips: b.imgPerS.toFixed(1), loss: b.loss.toFixed(4), acc: pct(b.acc), lr: b.lr.toPrecision(3) }),
    epochEnd: (m) => {
      bar.stop();
      console.log(`epoch ${m.epoch}/${cfg.epochs}: train loss ${m.train_loss.toFixed(4)} acc ${pct(m.train_acc)} | ` +
        `val loss ${m.val_loss?.toFixed(4) ?? '-'} acc ${pct(m.val_acc)} | ${m.seconds.toFixed(1)} s, ${m.img_per_s.toFixed(1)} img/s` +
        (m.world_size ? ` | allreduce ${(1000 * (m.allreduce_s_per_step ?? 0)).toFixed(0)} ms/step, ${(1000 * (m.allreduce_wait_s_per_step ?? 0)).toFixed(0)} ms not overlapped` : ''));
    },
  } : {};
  const result = await train(cfg, events, resume, world, { bucketBytes });
  bar.stop();
  if (!speaks) return;
  if (result.best && !Number.isNaN(result.best.valAcc)) console.log(`best validation accuracy ${pct(result.best.valAcc)} (epoch ${result.best.epoch})`);
  if (result.test) {
    console.log(`test accuracy ${pct(result.test.accuracy)} (loss ${result.test.loss.toFixed(4)}, ${result.test.images} images, best-by-validation weights)`);
  }
  console.log(`wrote ${result.out}/{best,last,checkpoint}.safetensors, metrics.jsonl, curves.svg/png`);
}
