/**
 * Dynamic batching: requests that arrive within `windowMs` of the oldest waiting one (or while a batch
 * is running) are run as one forward pass of up to `maxBatch` rows. One batch runs at a time (the
 * worker has one model); at most `maxQueue` rows wait, beyond that `submit` refuses with QueueFullError.
 */

export class QueueFullError extends Error {}

export interface BatcherOptions {
  maxBatch: number;
  windowMs: number;
  maxQueue: number;
  /** Values per row of input, and of output. */
  rowIn: number;
  rowOut: number;
}

export interface BatcherHooks {
  onBatch?(rows: number, ms: number): void;
  onDepth?(rows: number): void;
}

interface Job {
  x: Float32Array;
  rows: number;
  since: number;
  resolve(logits: Float32Array): void;
  reject(e: Error): void;
}

export type RunBatch = (x: Float32Array, rows: number) => Promise<{ logits: Float32Array }>;

export class Batcher {
  private readonly queue: Job[] = [];
  private queuedRows = 0;
  private busy = false;
  private timer: NodeJS.Timeout | null = null;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly runBatch: RunBatch, private readonly o: BatcherOptions, private readonly hooks: BatcherHooks = {}) {}

  /** Rows waiting (not yet running). */
  get depth(): number {
    return this.queuedRows;
  }

  /** Logits [rows, rowOut] for input [rows, rowIn]; rejects with QueueFullError when the queue is full. */
  submit(x: Float32Array, rows: number): Promise<Float32Array> {
    if (rows < 1 || rows > this.o.maxBatch) return Promise.reject(new RangeError(`batch of ${rows} rows, expected 1..${this.o.maxBatch}`));
    if (x.length !== rows * this.o.rowIn) return Promise.reject(new RangeError(`input of ${x.length} values, expected ${rows} x ${this.o.rowIn}`));
    if (this.queuedRows + rows > this.o.maxQueue) return Promise.reject(new QueueFullError(`the queue is full (${this.queuedRows} of ${this.o.maxQueue} images waiting)`));
    return new Promise((resolve, reject) => {
      this.queue.push({ x, rows, since: performance.now(), resolve, reject });
      this.setDepth(this.queuedRows + rows);
      this.schedule();
    });
  }

  /** Resolves once nothing is queued or running. */
  idle(): Promise<void> {
    if (!this.busy && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.busy || this.queue.length === 0) return;
    const waited = performance.now() - this.queue[0].since;
    if (this.queuedRows >= this.o.maxBatch || waited >= this.o.windowMs) {
      this.dispatch();
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.schedule();
      }, this.o.windowMs - waited);
    }
  }

  private dispatch(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const jobs: Job[] = [];
    let rows = 0;
    while (this.queue.length > 0 && rows + this.queue[0].rows <= this.o.maxBatch) {
      const j = this.queue.shift()!;
      jobs.push(j);
      rows += j.rows;
    }
    this.setDepth(this.queuedRows - rows);
    const x = new Float32Array(rows * this.o.rowIn);
    let at = 0;
    for (const j of jobs) {
      x.set(j.x, at);
      at += j.x.length;
    }
    this.busy = true;
    const t = performance.now();
    this.runBatch(x, rows).then(
      ({ logits }) => {
        this.hooks.onBatch?.(rows, performance.now() - t);
        let r = 0;
        for (const j of jobs) {
          j.resolve(logits.slice(r * this.o.rowOut, (r + j.rows) * this.o.rowOut));
          r += j.rows;
        }
      },
      (e: Error) => { for (const j of jobs) j.reject(e); },
    ).finally(() => {
      this.busy = false;
      if (this.queue.length === 0) for (const w of this.idleWaiters.splice(0)) w();
      this.schedule();
    });
  }

  private setDepth(rows: number): void {
    this.queuedRows = rows;
    this.hooks.onDepth?.(rows);
  }
}

/**
 * Batch sizes the worker runs: powers of two below `maxBatch`, and `maxBatch`. A batch is padded up to
 * the next one, so warming these few shapes covers every batch (1..maxBatch) at most 2x padding.
 */
export function batchSizes(maxBatch: number): number[] {
  const out: number[] = [];
  for (let n = 1; n < maxBatch; n *= 2) out.push(n);
  out.push(maxBatch);
  return out;
}
