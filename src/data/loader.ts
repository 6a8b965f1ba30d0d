/**
 * Batches for training and evaluation: Float32Array [B, C, H, W] (normalised, augmented when asked) and
 * Int32Array labels.
 *
 * - Order: `epochPermutation(n, seed, epoch)` when shuffling, else 0..n-1. Batch b of epoch e holds the
 *   samples at positions [b*B, (b+1)*B) of that order.
 * - Augmentation draws come from `sampleRng(seed, epoch, sampleIndex)`: a batch's contents depend only on
 *   (seed, epoch, b), whatever the worker count, prefetch depth or resume point.
 * - `workers: 0` builds batches synchronously in the calling thread; `workers >= 1` builds them in
 *   worker_threads that read the images from a SharedArrayBuffer (no per-worker copies), `prefetch`
 *   batches ahead.
 * - Resumable: `epoch(e, { startBatch: b })` yields batches b, b+1, ... of epoch e, identical to those of a
 *   run that started at batch 0.
 */
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { DataError } from './errors.js';
import { channelStats, imageDtype, toShared, type Dataset, type ImageArray } from './dataset.js';
import { epochPermutation, normalizeLut, transformBatch, type AugmentOptions, type NormalizeOptions, type TransformSpec } from './transforms.js';

export interface LoaderOptions {
  batchSize: number;
  /** Reshuffle every epoch (default true). */
  shuffle?: boolean;
  /** Seed of the order and the augmentation (default 0). */
  seed?: number;
  /** Drop a last partial batch (default false). */
  dropLast?: boolean;
  /** Augmentation (default none). */
  augment?: AugmentOptions;
  /** Normalisation (default: the dataset's own per-channel mean/std; pass the training split's for eval sets). */
  normalize?: NormalizeOptions;
  /** Worker threads (0 = synchronous, in-thread). Default: min(4, cores - 1), at least 1. */
  workers?: number;
  /** Batches requested ahead of the consumer (default max(2, 2 * workers)). */
  prefetch?: number;
  /**
   * Data-parallel slice: `batchSize` is the global batch and this loader yields rank `rank`'s part of
   * each, positions [floor(rank * L / size), floor((rank + 1) * L / size)) of a global batch of L images
   * (L = batchSize except for the last one). A last batch with fewer images than ranks is dropped.
   */
  shard?: { rank: number; size: number };
}

export interface Batch {
  epoch: number;
  /** Batch index within the epoch. */
  index: number;
  /** [B, C, H, W] */
  shape: [number, number, number, number];
  images: Float32Array;
  labels: Int32Array;
  /** Dataset indices of the samples. */
  indices: Int32Array;
}

export interface LoaderThroughput {
  images: number;
  batches: number;
  /** Wall time of epoch iteration: from the start of each epoch to its last batch, the consumer's work included. */
  seconds: number;
  /** Time the consumer waited for a batch that was not ready. */
  waitSeconds: number;
  imagesPerSecond: number;
}

interface WorkerInit {
  type: 'init';
  images: ImageArray;
  shape: [number, number, number, number];
  spec: TransformSpec;
  seed: number;
}

interface WorkerJob {
  type: 'batch';
  id: number;
  epoch: number;
  augment: boolean;
  indices: Int32Array;
}

interface WorkerReply {
  type: 'batch';
  id: number;
  images?: Float32Array;
  error?: string;
}

interface Pending {
  resolve: (v: Float32Array) => void;
  reject: (e: Error) => void;
}

class WorkerPool {
  private readonly workers: Worker[] = [];
  private readonly outstanding: number[] = [];
  private readonly pending = new Map<number, Pending>();
  private readonly owner = new Map<number, number>();
  private nextId = 0;
  private failed: Error | null = null;

  constructor(count: number, init: WorkerInit) {
    const url = new URL('./loaderWorker.js', import.meta.url);
    for (let k = 0; k < count; k++) {
      const w = new Worker(url);
      w.postMessage(init);
      w.on('message', (m: WorkerReply) => this.onReply(k, m));
      w.on('error', (e) => this.failAll(e instanceof Error ? e : new Error(String(e))));
      w.on('exit', (code) => {
        if (code !== 0) this.failAll(new Error(`data loader worker exited with code ${code}`));
      });
      w.unref();
      this.workers.push(w);
      this.outstanding.push(0);
    }
  }

  private onReply(k: number, m: WorkerReply): void {
    this.outstanding[k]--;
    // After close() the workers are gone but a late reply can still arrive.
    if (this.outstanding[k] === 0) this.workers[k]?.unref();
    const p = this.pending.get(m.id);
    this.pending.delete(m.id);
    this.owner.delete(m.id);
    if (!p) return;
    if (m.error !== undefined || !m.images) p.reject(new Error(m.error ?? 'data loader worker sent no images'));
    else p.resolve(m.images);
  }

  private failAll(e: Error): void {
    this.failed = e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  run(epoch: number, augment: boolean, indices: Int32Array): Promise<Float32Array> {
    if (this.failed) return Promise.reject(this.failed);
    let k = 0;
    for (let i = 1; i < this.workers.length; i++) if (this.outstanding[i] < this.outstanding[k]) k = i;
    const id = this.nextId++;
    const job: WorkerJob = { type: 'batch', id, epoch, augment, indices };
    return new Promise<Float32Array>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.owner.set(id, k);
      if (this.outstanding[k]++ === 0) this.workers[k].ref();
      this.workers[k].postMessage(job);
    });
  }

  /** Forgets a request (its result will be dropped when it arrives). */
  drop(p: Promise<Float32Array>): void {
    p.catch(() => undefined);
  }

  async close(): Promise<void> {
    const ws = this.workers.splice(0);
    for (const p of this.pending.values()) p.reject(new Error('data loader closed'));
    this.pending.clear();
    await Promise.all(ws.map((w) => w.terminate()));
  }
}

export function defaultWorkerCount(): number {
  return Math.max(1, Math.min(4, availableParallelism() - 1));
}

export class DataLoader {
  readonly dataset: Dataset;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly dropLast: boolean;
  readonly workers: number;
  readonly prefetch: number;
  readonly spec: TransformSpec;
  /** Whether `epoch()` augments (false for loaders without augmentation options). */
  readonly augmenting: boolean;
  readonly shard: { rank: number; size: number };
  private readonly images: ImageArray;
  private readonly lut: Float32Array | null;
  private pool: WorkerPool | null = null;
  private closed = false;
  private tp = { images: 0, batches: 0, ns: 0n, waitNs: 0n };

  constructor(dataset: Dataset, opts: LoaderOptions) {
    const where = dataset.meta.name;
    if (!Number.isInteger(opts.batchSize) || opts.batchSize <= 0) {
      throw new DataError(`${where}: batch size ${opts.batchSize} is invalid (expected a positive integer)`);
    }
    const workers = opts.workers ?? defaultWorkerCount();
    if (!Number.isInteger(workers) || workers < 0) throw new DataError(`${where}: worker count ${workers} is invalid (expected an integer >= 0)`);
    this.dataset = dataset;
    this.batchSize = opts.batchSize;
    this.shuffle = opts.shuffle ?? true;
    this.seed = (opts.seed ?? 0) >>> 0;
    this.dropLast = opts.dropLast ?? false;
    this.shard = opts.shard ?? { rank: 0, size: 1 };
    const { rank, size } = this.shard;
    if (!Number.isInteger(size) || size < 1 || !Number.isInteger(rank) || rank < 0 || rank >= size) {
      throw new DataError(`${where}: shard ${rank} of ${size} is invalid`);
    }
    this.workers = workers;
    this.prefetch = Math.max(1, opts.prefetch ?? Math.max(2, 2 * workers));
    const c = dataset.shape[1];
    const normalize = opts.normalize ?? channelStats(dataset);
    if (normalize.mean.length !== c && normalize.mean.length !== 1) {
      throw new DataError(`${where}: normalisation has ${normalize.mean.length} means, expected ${c} (one per channel)`);
    }
    if (normalize.std.some((s) => !(s > 0))) throw new DataError(`${where}: normalisation std must be > 0, got [${normalize.std.join(', ')}]`);
    const isU8 = imageDtype(dataset.images) === 'uint8';
    this.spec = {
      normalize: { mean: [...normalize.mean], std: [...normalize.std] },
      ...(opts.augment ? { augment: opts.augment } : {}),
      pixelScale: isU8 ? 1 / 255 : 1,
    };
    const a = opts.augment;
    this.augmenting = !!a && (!!a.crop || !!a.flip || !!a.cutout || !!a.erasing);
    this.images = workers > 0 ? toShared(dataset.images) : dataset.images;
    this.lut = isU8 ? normalizeLut(this.spec, c) : null;
  }

  get length(): number {
    return this.dataset.shape[0];
  }

  /** Batches per epoch. */
  get batchesPerEpoch(): number {
    const n = this.length;
    const full = Math.floor(n / this.batchSize);
    const rest = n - full * this.batchSize;
    return full + (!this.dropLast && rest >= this.shard.size ? 1 : 0);
  }

  private orderCache: { epoch: number; order: Int32Array } | null = null;

  /** The sample order of an epoch. */
  order(epoch: number): Int32Array {
    if (this.orderCache && this.orderCache.epoch === epoch) return this.orderCache.order;
    const n = this.length;
    let order: Int32Array;
    if (this.shuffle) order = epochPermutation(n, this.seed, epoch);
    else {
      order = new Int32Array(n);
      for (let i = 0; i < n; i++) order[i] = i;
    }
    this.orderCache = { epoch, order };
    return order;
  }

  /** Dataset indices of batch `b` of `epoch`. */
  batchIndices(epoch: number, b: number): Int32Array {
    if (!Number.isInteger(b) || b < 0 || b >= this.batchesPerEpoch) {
      throw new DataError(`${this.dataset.meta.name}: batch index ${b} is out of range (expected 0..${this.batchesPerEpoch - 1})`);
    }
    const o = this.order(epoch);
    const start = b * this.batchSize;
    const len = Math.min(o.length, start + this.batchSize) - start;
    const { rank, size } = this.shard;
    return o.slice(start + Math.floor((rank * len) / size), start + Math.floor(((rank + 1) * len) / size));
  }

  private labelsOf(indices: Int32Array): Int32Array {
    const l = new Int32Array(indices.length);
    for (let j = 0; j < indices.length; j++) l[j] = this.dataset.labels[indices[j]];
    return l;
  }

  private makeBatch(epoch: number, b: number, indices: Int32Array, images: Float32Array): Batch {
    const [, c, h, w] = this.dataset.shape;
    return { epoch, index: b, shape: [indices.length, c, h, w], images, labels: this.labelsOf(indices), indices };
  }

  /** Builds batch `b` of `epoch` synchronously in this thread. */
  getBatch(epoch: number, b: number): Batch {
    const indices = this.batchIndices(epoch, b);
    const images = transformBatch(this.images, this.dataset.shape, indices, this.spec, this.seed, epoch, this.augmenting, undefined, this.lut);
    return this.makeBatch(epoch, b, indices, images);
  }

  /** Synchronous iteration over an epoch (from `startBatch`). */
  *epochSync(epoch: number, opts: { startBatch?: number } = {}): Generator<Batch> {
    const nb = this.batchesPerEpoch;
    let last = process.hrtime.bigint();
    for (let b = this.checkStart(opts.startBatch); b < nb; b++) {
      const t0 = process.hrtime.bigint();
      const batch = this.getBatch(epoch, b);
      const now = process.hrtime.bigint();
      this.count(batch, now - last, now - t0);
      last = now;
      yield batch;
    }
  }

  private checkStart(s: number | undefined): number {
    const b = s ?? 0;
    if (!Number.isInteger(b) || b < 0 || b > this.batchesPerEpoch) {
      throw new DataError(`${this.dataset.meta.name}: start batch ${s} is out of range (expected 0..${this.batchesPerEpoch})`);
    }
    return b;
  }

  private count(batch: Batch, ns: bigint, waitNs: bigint): void {
    this.tp.images += batch.shape[0];
    this.tp.batches++;
    this.tp.ns += ns;
    this.tp.waitNs += waitNs;
  }

  /**
   * Iterates over an epoch from `startBatch` (default 0). With workers, batches are built ahead in worker
   * threads; without, in this thread.
   */
  async *epoch(epoch: number, opts: { startBatch?: number } = {}): AsyncGenerator<Batch> {
    if (this.closed) throw new DataError(`${this.dataset.meta.name}: data loader is closed`);
    const start = this.checkStart(opts.startBatch);
    if (this.workers === 0) {
      yield* this.epochSync(epoch, { startBatch: start });
      return;
    }
    if (!this.pool) {
      this.pool = new WorkerPool(this.workers, {
        type: 'init',
        images: this.images,
        shape: this.dataset.shape,
        spec: this.spec,
        seed: this.seed,
      });
    }
    const pool = this.pool;
    const nb = this.batchesPerEpoch;
    const inflight = new Map<number, { indices: Int32Array; p: Promise<Float32Array> }>();
    let next = start;
    const fill = (): void => {
      while (next < nb && inflight.size < this.prefetch) {
        const indices = this.batchIndices(epoch, next);
        const p = pool.run(epoch, this.augmenting, indices.slice());
        p.catch(() => undefined); // handled when awaited
        inflight.set(next, { indices, p });
        next++;
      }
    };
    let last = process.hrtime.bigint();
    try {
      for (let b = start; b < nb; b++) {
        fill();
        const job = inflight.get(b) as { indices: Int32Array; p: Promise<Float32Array> };
        const w0 = process.hrtime.bigint();
        const images = await job.p;
        inflight.delete(b);
        fill();
        const batch = this.makeBatch(epoch, b, job.indices, images);
        const now = process.hrtime.bigint();
        this.count(batch, now - last, now - w0);
        last = now;
        yield batch;
      }
    } finally {
      for (const j of inflight.values()) pool.drop(j.p);
    }
  }

  /** Images/s delivered so far (since construction or `resetThroughput`). */
  throughput(): LoaderThroughput {
    const seconds = Number(this.tp.ns) / 1e9;
    return {
      images: this.tp.images,
      batches: this.tp.batches,
      seconds,
      waitSeconds: Number(this.tp.waitNs) / 1e9,
      imagesPerSecond: seconds > 0 ? this.tp.images / seconds : 0,
    };
  }

  resetThroughput(): void {
    this.tp = { images: 0, batches: 0, ns: 0n, waitNs: 0n };
  }

  /** Stops the worker threads (the loader cannot iterate afterwards). */
  async close(): Promise<void> {
    this.closed = true;
    const p = this.pool;
    this.pool = null;
    if (p) await p.close();
  }
}

export interface SplitLoaders {
  train: DataLoader;
  val?: DataLoader;
  test?: DataLoader;
  close(): Promise<void>;
}

/**
 * Loaders for a dataset's splits, all normalised with the training split's mean/std: the training loader
 * shuffles and augments; validation and test loaders keep order and do not augment.
 */
export function createLoaders(
  splits: { train: Dataset; val?: Dataset; test?: Dataset; stats: NormalizeOptions },
  opts: LoaderOptions & { evalBatchSize?: number },
): SplitLoaders {
  const { evalBatchSize, ...rest } = opts;
  const normalize = rest.normalize ?? splits.stats;
  const train = new DataLoader(splits.train, { ...rest, normalize });
  const evalOpts: LoaderOptions = { ...rest, batchSize: evalBatchSize ?? rest.batchSize, shuffle: false, dropLast: false, normalize };
  delete evalOpts.augment;
  const val = splits.val ? new DataLoader(splits.val, evalOpts) : undefined;
  const test = splits.test ? new DataLoader(splits.test, evalOpts) : undefined;
  return {
    train,
    ...(val ? { val } : {}),
    ...(test ? { test } : {}),
    close: async () => {
      await Promise.all([train.close(), val?.close(), test?.close()]);
    },
  };
}
