import type { Dataset, DatasetSplits } from '../data/dataset.js';
import { channelStats, subset } from '../data/dataset.js';
import { resolveDataset } from '../data/resolve.js';
import { DataLoader } from '../data/loader.js';
import type { AugmentOptions, PadMode } from '../data/transforms.js';
import type { Batch } from '../inference/predict.js';

/** The training augmentation of a run (the paper's: pad-4 crop + horizontal flip). */
export interface Augment {
  /** Random-crop padding in pixels (0: no crop). */
  crop: number;
  padMode: PadMode;
  flip: boolean;
  /** Cutout square size in pixels (0: off). */
  cutout: number;
}

export interface DataConfig {
  data: string;
  valSize: number;
  seed: number;
  limit: number;
  evalLimit: number;
  batch: number;
  augment: Augment;
  workers: number;
  /** Image folders only: decode to this size (0: the reader's default, 32) ... */
  imageSize: number;
  /** ... and to this many channels (0: RGB). */
  channels: number;
}

function firstN(ds: Dataset, n: number, split: string): Dataset {
  if (n <= 0 || n >= ds.shape[0]) return ds;
  return subset(ds, Int32Array.from({ length: n }, (_, i) => i), split);
}

/**
 * Loads the run's data: the validation hold-out is taken from the full training split with a fixed
 * seed (so it does not move with --limit), then --limit keeps the first N training images. The
 * normalisation statistics are those of the images actually trained on.
 */
export async function loadSplits(cfg: DataConfig): Promise<DatasetSplits> {
  const s = await resolveDataset(cfg.data, {
    valSize: cfg.valSize, valSeed: 0,
    ...(cfg.imageSize > 0 ? { imageSize: cfg.imageSize } : {}),
    ...(cfg.channels === 1 || cfg.channels === 3 ? { channels: cfg.channels } : {}),
  });
  const train = firstN(s.train, cfg.limit, 'train');
  const stats = train === s.train ? s.stats : channelStats(train);
  return {
    ...s,
    train,
    ...(s.val ? { val: firstN(s.val, cfg.evalLimit, 'val') } : {}),
    ...(s.test ? { test: firstN(s.test, cfg.evalLimit, 'test') } : {}),
    // A channel that never varies (a constant colour plane) is left unscaled rather than divided by zero.
    stats: { mean: stats.mean, std: stats.std.map((v) => (v > 1e-6 ? v : 1)) },
  };
}

function augmentOptions(a: Augment): AugmentOptions {
  return {
    ...(a.crop > 0 ? { crop: { padding: a.crop, mode: a.padMode } } : {}),
    flip: a.flip,
    ...(a.cutout > 0 ? { cutout: { size: a.cutout } } : {}),
  };
}

/**
 * The training loader of a run: shuffled, augmented batches built in worker threads. The order and
 * every augmentation draw depend only on (seed, epoch, image index), so a resumed run replays them
 * exactly. The last partial batch is kept (as PyTorch's DataLoader does by default).
 */
export function trainLoader(
  ds: Dataset, cfg: DataConfig, stats: { mean: number[]; std: number[] }, shard?: { rank: number; size: number },
): DataLoader {
  return new DataLoader(ds, {
    batchSize: cfg.batch, shuffle: true, seed: cfg.seed, augment: augmentOptions(cfg.augment),
    normalize: { mean: stats.mean, std: stats.std }, workers: cfg.workers, ...(shard ? { shard } : {}),
  });
}

/** One epoch of a loader's batches, as the trainer's Batch. */
export async function* epochBatches(loader: DataLoader, epoch: number): AsyncGenerator<Batch> {
  for await (const b of loader.epoch(epoch)) yield { x: b.images, labels: b.labels, shape: b.shape };
}
