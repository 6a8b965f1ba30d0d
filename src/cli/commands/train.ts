import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { ACTIVATIONS, type Activation, type Precision } from '../../backend/backend.js';
import type { BackendChoice } from '../../backend/select.js';
import { MetaBackend } from '../../backend/meta.js';
import { withBackend } from '../../core/engine.js';
import { createModel, parseArch } from '../../models/registry.js';
import type { ScheduleName } from '../../optim/schedule.js';
import { PAPER_DEFAULTS, train, type TrainConfig } from '../../train/trainer.js';
import { intFlag, numberFlag, UserError } from '../userError.js';

export interface TrainFlags {
  arch?: string;
  data?: string;
  epochs?: string;
  batch?: string;
  lr?: string;
  schedule?: string;
  warmup?: string;
  dropout?: string;
  wd?: string;
  labelSmoothing?: string;
  activation?: string;
  limit?: string;
  evalLimit?: string;
  seed?: string;
  valSize?: string;
  precision?: string;
  backend?: string;
  workers?: string;
  imageSize?: string;
  channels?: string;
  out?: string;
  resume?: string;
  config?: string;
  crop?: string;
  pad?: string;
  flip?: boolean;
  cutout?: string;
  init?: string;
  freezeStages?: string;
  headLrMult?: string;
}

const CONFIG_KEYS = new Set<string>(['arch', 'data', 'out', ...Object.keys(PAPER_DEFAULTS)]);

/** Reads --config FILE: a JSON object with TrainConfig keys (same names as the flags, camelCase). */
function readConfigFile(file: string): Partial<TrainConfig> {
  if (!existsSync(file)) throw new UserError(`--config ${file}: no such file`);
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UserError(`--config ${file}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new UserError(`--config ${file}: expected a JSON object`);
  const unknown = Object.keys(v).filter((k) => !CONFIG_KEYS.has(k));
  if (unknown.length) throw new UserError(`--config ${file}: unknown keys ${unknown.join(', ')} (expected some of ${[...CONFIG_KEYS].join(', ')})`);
  return v as Partial<TrainConfig>;
}

function oneOf<T extends string>(flag: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) throw new UserError(`${flag}: expected one of ${allowed.join(', ')}, got '${value}'`);
  return value as T;
}

/** Flags over --config over the paper's defaults. */
export function resolveTrainConfig(f: TrainFlags): TrainConfig {
  const file = f.config ? readConfigFile(f.config) : {};
  const arch = f.arch ?? file.arch;
  const data = f.data ?? file.data;
  if (!arch) throw new UserError('--arch is required (e.g. --arch wrn-16-4)');
  if (!data) throw new UserError('--data is required (fashion-mnist, cifar10, cifar100, or a folder / file)');
  // Fail on a bad architecture before loading any data (built on the shapes-only backend: free).
  withBackend(new MetaBackend(), () => createModel(arch));
  const isWrn = parseArch(arch).family === 'wrn';
  const base = { ...PAPER_DEFAULTS, dropout: isWrn ? PAPER_DEFAULTS.dropout : 0, ...file };
  const augment = { ...base.augment };
  if (f.crop !== undefined) augment.crop = intFlag('--crop', f.crop, 0)!;
  if (f.pad !== undefined) augment.padMode = oneOf('--pad', f.pad, ['reflect', 'zero'] as const)!;
  if (f.flip === false) augment.flip = false;
  if (f.cutout !== undefined) augment.cutout = intFlag('--cutout', f.cutout, 0)!;
  const init = f.init ?? base.init;
  if (init && !existsSync(init)) throw new UserError(`--init ${init}: no such weights file`);
  const out = f.out ?? file.out ?? path.join('runs', `${arch}-${path.basename(data).replace(/\W+/g, '-')}`);
  return {
    ...base,
    arch,
    data,
    out,
    epochs: intFlag('--epochs', f.epochs) ?? base.epochs,
    batch: intFlag('--batch', f.batch) ?? base.batch,
    lr: numberFlag('--lr', f.lr, 0) ?? base.lr,
    schedule: oneOf<ScheduleName>('--schedule', f.schedule, ['paper', 'cosine', 'onecycle']) ?? base.schedule,
    warmup: numberFlag('--warmup', f.warmup, 0) ?? base.warmup,
    dropout: numberFlag('--dropout', f.dropout, 0, 0.99) ?? base.dropout,
    wd: numberFlag('--wd', f.wd, 0) ?? base.wd,
    labelSmoothing: numberFlag('--label-smoothing', f.labelSmoothing, 0, 0.99) ?? base.labelSmoothing,
    activation: oneOf<Activation>('--activation', f.activation, ACTIVATIONS) ?? base.activation,
    limit: intFlag('--limit', f.limit, 0) ?? base.limit,
    evalLimit: intFlag('--eval-limit', f.evalLimit, 0) ?? base.evalLimit,
    seed: intFlag('--seed', f.seed, 0) ?? base.seed,
    valSize: intFlag('--val-size', f.valSize, 0) ?? base.valSize,
    precision: oneOf<Precision>('--precision', f.precision, ['fp32', 'bf16']) ?? base.precision,
    backend: oneOf<BackendChoice>('--backend', f.backend, ['auto', 'js', 'native']) ?? base.backend,
    workers: intFlag('--workers', f.workers, 0) ?? base.workers,
    imageSize: intFlag('--image-size', f.imageSize, 1) ?? base.imageSize,
    channels: oneOf('--channels', f.channels, ['1', '3'] as const) ? Number(f.channels) : base.channels,
    init,
    freezeStages: intFlag('--freeze-stages', f.freezeStages, 0) ?? base.freezeStages,
    headLrMult: numberFlag('--head-lr-mult', f.headLrMult, 0) ?? base.headLrMult,
    augment,
  };
}

const pct = (x: number | null | undefined): string => (x === null || x === undefined || Number.isNaN(x) ? '-' : `${(100 * x).toFixed(2)}%`);

export function register(program: Command): void {
  program
    .command('train')
    .description("train a WRN with the paper's recipe (SGD Nesterov 0.9, lr 0.1 x0.2 at 30/60/80%, wd 5e-4, batch 128, crop+flip)")
    .option('--arch <name>', 'architecture (wrn-16-4, wrn-28-10, preact-resnet-164, ...)')
    .option('--data <name|path>', 'fashion-mnist, mnist, cifar10, cifar100, an image folder or a .safetensors file')
    .option('--epochs <N>', `epochs (default ${PAPER_DEFAULTS.epochs})`)
    .option('--batch <N>', `batch size (default ${PAPER_DEFAULTS.batch})`)
    .option('--lr <x>', `initial learning rate (default ${PAPER_DEFAULTS.lr})`)
    .option('--schedule <name>', 'paper | cosine | onecycle (default paper)')
    .option('--warmup <E>', 'linear warm-up epochs (default 0)')
    .option('--dropout <p>', 'dropout in the blocks (default 0.3 for WRNs, 0 otherwise)')
    .option('--wd <x>', `weight decay (default ${PAPER_DEFAULTS.wd})`)
    .option('--label-smoothing <x>', 'label smoothing (default 0)')
    .option('--activation <name>', `activation: ${ACTIVATIONS.join(', ')} (default relu)`)
    .option('--limit <N>', 'train on the first N training images only (0: all)')
    .option('--eval-limit <N>', 'evaluate on the first N validation/test images only (0: all)')
    .option('--seed <S>', 'seed of init, shuffling, augmentation and dropout (default 0)')
    .option('--val-size <N>', `training images held out for validation (default ${PAPER_DEFAULTS.valSize}; 0: none)`)
    .option('--crop <P>', 'random-crop padding in pixels (default 4; 0: off)')
    .option('--pad <mode>', 'crop padding: reflect | zero (default reflect)')
    .option('--no-flip', 'no random horizontal flips')
    .option('--cutout <S>', 'Cutout square size in pixels (default 0: off)')
    .option('--precision <p>', 'fp32 | bf16 (bf16 needs the native backend)')
    .option('--backend <b>', 'auto | js | native (default auto: native when it loads)')
    .option('--workers <N>', 'augmentation worker threads (default 1; 0: main thread)')
    .option('--image-size <S>', 'image folders: resize + center-crop to S x S (default 32)')
    .option('--channels <C>', 'image folders: 1 (grayscale) or 3 (RGB, default)')
    .option('--init <file>', 'fine-tune: start from these weights (.safetensors or .pth); the classifier is replaced when the classes differ')
    .option('--freeze-stages <K>', 'fine-tune: freeze the stem and the first K stages, batch norm included (K = all: train the classifier only)')
    .option('--head-lr-mult <M>', 'fine-tune: learning-rate multiplier of the classifier (default 1)')
    .option('--out <dir>', 'run directory (default runs/<arch>-<data>)')
    .option('--resume <dir>', 'continue the run in DIR where it stopped')
    .option('--config <file.json>', 'read options from a JSON file (flags win)')
    .action(async (f: TrainFlags) => {
      let cfg: TrainConfig;
      if (f.resume) {
        const saved = path.join(f.resume, 'config.json');
        if (!existsSync(saved)) throw new UserError(`--resume ${f.resume}: no config.json there (not a run directory)`);
        cfg = { ...(JSON.parse(readFileSync(saved, 'utf8')) as TrainConfig), out: f.resume };
        // Only how it runs may change on resume, not what it computes.
        if (f.backend) cfg.backend = oneOf<BackendChoice>('--backend', f.backend, ['auto', 'js', 'native'])!;
        if (f.workers) cfg.workers = intFlag('--workers', f.workers, 0)!;
      } else {
        cfg = resolveTrainConfig(f);
      }
      const bar = new cliProgress.SingleBar({
        format: ' epoch {epoch} |{bar}| {value}/{total} | {ips} img/s | loss {loss} | acc {acc} | lr {lr} | ETA {eta_formatted}',
        hideCursor: true, noTTYOutput: !process.stderr.isTTY, notTTYSchedule: 10000, etaBuffer: 50,
      }, cliProgress.Presets.shades_classic);
      let epochNo = 0;
      const result = await train(cfg, {
        info: (line) => console.log(line),
        epochStart: (epoch, batches, lr) => {
          epochNo = epoch + 1;
          bar.start(batches, 0, { epoch: `${epochNo}/${cfg.epochs}`, ips: '-', loss: '-', acc: '-', lr: lr.toPrecision(3) });
        },
        batchEnd: (b) => bar.update(b.batch, { ips: b.imgPerS.toFixed(1), loss: b.loss.toFixed(4), acc: pct(b.acc), lr: b.lr.toPrecision(3) }),
        epochEnd: (m) => {
          bar.stop();
          console.log(`epoch ${m.epoch}/${cfg.epochs}: train loss ${m.train_loss.toFixed(4)} acc ${pct(m.train_acc)} | ` +
            `val loss ${m.val_loss?.toFixed(4) ?? '-'} acc ${pct(m.val_acc)} | ${m.seconds.toFixed(1)} s, ${m.img_per_s.toFixed(1)} img/s`);
        },
      }, Boolean(f.resume));
      bar.stop();
      if (result.best && !Number.isNaN(result.best.valAcc)) console.log(`best validation accuracy ${pct(result.best.valAcc)} (epoch ${result.best.epoch})`);
      if (result.test) {
        console.log(`test accuracy ${pct(result.test.accuracy)} (loss ${result.test.loss.toFixed(4)}, ${result.test.images} images, best-by-validation weights)`);
      }
      console.log(`wrote ${result.out}/{best,last,checkpoint}.safetensors, metrics.jsonl, curves.svg/png`);
    });
}
