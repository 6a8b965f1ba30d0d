/** The server's handle on the inference worker: start it (resolves once it is warm), run batches, close it. */
import { Worker } from 'node:worker_threads';
import { setOpenMpDefaults } from '../backend/native/addon.js';
import type { ModelMeta } from '../inference/modelMeta.js';
import type { FromWorker, ToWorker, WorkerConfig } from './protocol.js';

export interface BatchResult {
  logits: Float32Array;
  /** Forward time in the worker, ms. */
  ms: number;
  /** Rows actually run (the batch padded to a warmed size). */
  padded: number;
}

export class InferenceWorker {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(r: BatchResult): void; reject(e: Error): void }>();
  private exited: Error | null = null;

  private constructor(
    private readonly worker: Worker,
    readonly meta: ModelMeta,
    readonly backend: string,
    readonly onnx: Uint8Array,
    readonly warmupMs: number,
  ) {
    worker.on('message', (m: FromWorker) => this.settle(m));
    worker.on('error', (e) => this.fail(e));
    worker.on('exit', (code) => this.fail(new Error(`the inference worker exited (code ${code})`)));
  }

  /** Starts the worker and waits until it has loaded the model and warmed every batch size. */
  static start(cfg: WorkerConfig): Promise<InferenceWorker> {
    setOpenMpDefaults();
    const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: cfg });
    return new Promise((resolve, reject) => {
      const onMessage = (m: FromWorker): void => {
        off();
        if (m.type === 'ready') resolve(new InferenceWorker(worker, m.meta, m.backend, m.onnx, m.warmupMs));
        else {
          void worker.terminate();
          reject(new Error(m.type === 'error' ? m.message : `unexpected first message '${m.type}' from the inference worker`));
        }
      };
      const onError = (e: Error): void => { off(); reject(e); };
      const onExit = (code: number): void => { off(); reject(new Error(`the inference worker exited (code ${code}) before it was ready`)); };
      const off = (): void => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
    });
  }

  /** Logits [rows, classes] of already-normalised input [rows, C, H, W] (the buffer is transferred). */
  run(x: Float32Array, rows: number): Promise<BatchResult> {
    if (this.exited) return Promise.reject(this.exited);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const msg: ToWorker = { type: 'run', id, x, rows };
      this.worker.postMessage(msg, [x.buffer as ArrayBuffer]);
    });
  }

  async close(): Promise<void> {
    if (this.exited) return;
    this.exited = new Error('the inference worker is closed');
    await this.worker.terminate();
  }

  private settle(m: FromWorker): void {
    if (m.type !== 'result' && m.type !== 'failed') return;
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (m.type === 'result') p.resolve({ logits: m.logits, ms: m.ms, padded: m.padded });
    else p.reject(new Error(m.message));
  }

  private fail(e: Error): void {
    this.exited ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }
}
