/**
 * The training recipe from flag values (RECIPE, DATA, COMPUTE groups): the paper's defaults under what
 * the command line and --config gave. Shared by `wrn train` and `wrn compare`.
 */
import type { TrainConfig } from '../train/trainer.js';
import { PAPER_DEFAULTS } from '../train/trainer.js';
import type { COMPUTE, DATA, RECIPE, Values } from './flags.js';

export type RecipeValues = Values<typeof RECIPE> & Omit<Values<typeof DATA>, 'data'> & Values<typeof COMPUTE>;

/** Everything of a TrainConfig but arch, data and out. Dropout stays unset unless given: its default depends on the net. */
export type ResolvedRecipe = Omit<TrainConfig, 'arch' | 'data' | 'out' | 'dropout' | 'init' | 'freezeStages' | 'headLrMult'> & { dropout?: number };

export function recipeFrom(v: RecipeValues & { syncBn?: boolean | undefined }): ResolvedRecipe {
  const d = PAPER_DEFAULTS;
  return {
    epochs: v.epochs ?? d.epochs,
    batch: v.batch ?? d.batch,
    lr: v.lr ?? d.lr,
    schedule: v.schedule ?? d.schedule,
    warmup: v.warmup ?? d.warmup,
    momentum: d.momentum,
    nesterov: d.nesterov,
    wd: v.wd ?? d.wd,
    ...(v.dropout !== undefined ? { dropout: v.dropout } : {}),
    labelSmoothing: v.labelSmoothing ?? d.labelSmoothing,
    activation: v.activation ?? d.activation,
    limit: v.limit ?? d.limit,
    evalLimit: v.evalLimit ?? d.evalLimit,
    seed: v.seed ?? d.seed,
    valSize: v.valSize ?? d.valSize,
    augment: {
      crop: v.crop ?? d.augment.crop,
      padMode: v.pad ?? d.augment.padMode,
      flip: v.flip ?? d.augment.flip,
      cutout: v.cutout ?? d.augment.cutout,
    },
    precision: v.precision ?? d.precision,
    backend: v.backend ?? d.backend,
    workers: v.workers ?? d.workers,
    imageSize: v.imageSize ?? d.imageSize,
    channels: v.channels ?? d.channels,
    syncBn: v.syncBn ?? d.syncBn,
  };
}
