/**
 * Data-parallel gradient averaging with tensor fusion (Horovod's, PyTorch DDP's buckets): parameters
 * are grouped, in reverse registration order (the order backward produces their gradients), into
 * flat fp32 buckets of about `bucketBytes`. As backward completes a leaf's gradient (the autograd
 * engine's `onLeafGrad` hook) it is copied, scaled by this rank's share of the global batch, into its
 * bucket; a full bucket is handed to the MPI communication thread (MPI_Allreduce, sum) while backward
 * goes on. Buckets are launched strictly in bucket order, so every rank issues the same sequence of
 * collectives. `finish()` waits for the last ones and writes the averaged gradients back.
 */
import type { BackwardHooks } from '../core/autograd.js';
import type { Tensor } from '../core/tensor.js';
import type { World } from './world.js';

interface Bucket {
  params: Tensor[];
  offsets: number[];
  data: Float32Array;
  ready: number;
  packed: boolean;
  pending: Promise<number> | null;
}

/** Communication of one step. */
export interface StepComm {
  /** Seconds the communication thread spent inside MPI_Allreduce (all buckets). */
  allreduceSeconds: number;
  /** Seconds the training thread waited for allreduces after backward: the part not overlapped. */
  waitSeconds: number;
  bytes: number;
  buckets: number;
}

export const DEFAULT_BUCKET_BYTES = 4 << 20;

export class GradientSync {
  private readonly buckets: Bucket[] = [];
  private readonly where = new Map<Tensor, number>();
  private share = 1;
  private next = 0;

  constructor(private readonly world: World, params: readonly (readonly [string, Tensor])[], bucketBytes = DEFAULT_BUCKET_BYTES) {
    if (!(bucketBytes > 0)) throw new Error(`gradient buckets: size ${bucketBytes} bytes is invalid (expected > 0)`);
    let cur: Tensor[] = [];
    let elems = 0;
    const close = (): void => {
      if (cur.length === 0) return;
      const offsets: number[] = [];
      let o = 0;
      for (const p of cur) {
        offsets.push(o);
        o += p.size;
      }
      for (const p of cur) this.where.set(p, this.buckets.length);
      this.buckets.push({ params: cur, offsets, data: new Float32Array(o), ready: 0, packed: false, pending: null });
      cur = [];
      elems = 0;
    };
    for (let i = params.length - 1; i >= 0; i--) {
      const p = params[i][1];
      if (elems > 0 && (elems + p.size) * 4 > bucketBytes) close();
      cur.push(p);
      elems += p.size;
    }
    close();
  }

  get bucketCount(): number {
    return this.buckets.length;
  }

  get bytes(): number {
    return this.buckets.reduce((s, b) => s + b.data.byteLength, 0);
  }

  /**
   * Starts a step. `share` is this rank's fraction of the global batch (local / global images): the
   * local gradient is a mean over the local batch, so share-weighted sums are the global batch's mean.
   */
  begin(share: number): BackwardHooks {
    this.share = share;
    this.next = 0;
    for (const b of this.buckets) {
      b.ready = 0;
      b.packed = false;
      b.pending = null;
    }
    return { onLeafGrad: (leaf) => this.onLeafGrad(leaf) };
  }

  private onLeafGrad(leaf: Tensor): void {
    const k = this.where.get(leaf);
    if (k === undefined) return;
    const b = this.buckets[k];
    if (++b.ready === b.params.length) {
      this.pack(b);
      this.launchInOrder();
    }
  }

  private pack(b: Bucket): void {
    b.params.forEach((p, i) => {
      const dst = b.data.subarray(b.offsets[i], b.offsets[i] + p.size);
      // A parameter backward never reached contributes zeros (every rank runs the same graph).
      if (!p.grad) return dst.fill(0);
      const g = p.grad.backend.read(p.grad.storage, p.grad.shape);
      const s = this.share;
      for (let j = 0; j < dst.length; j++) dst[j] = g[j] * s;
    });
    b.packed = true;
  }

  private launchInOrder(): void {
    while (this.next < this.buckets.length && this.buckets[this.next].packed) {
      const b = this.buckets[this.next++];
      b.pending = this.world.allreduceAsync(b.data, 'sum');
    }
  }

  /** Waits for every bucket (at most the world's time limit) and replaces each gradient by the average. */
  async finish(): Promise<StepComm> {
    for (const b of this.buckets) if (!b.packed) this.pack(b);
    this.launchInOrder();
    const t0 = performance.now();
    const seconds = await withTimeout(Promise.all(this.buckets.map((b) => b.pending as Promise<number>)), this.world.timeoutMs);
    const waitSeconds = (performance.now() - t0) / 1000;
    for (const b of this.buckets) {
      b.params.forEach((p, i) => p.grad?.assign(b.data.subarray(b.offsets[i], b.offsets[i] + p.size)));
    }
    return { allreduceSeconds: seconds.reduce((a, s) => a + s, 0), waitSeconds, bytes: this.bytes, buckets: this.buckets.length };
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`gradient allreduce did not complete within ${Math.round(ms / 1000)} s (a rank is gone or stuck)`)), ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}
