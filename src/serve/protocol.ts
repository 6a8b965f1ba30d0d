/** Messages between the server (main thread) and the inference worker. */
import type { BackendChoice } from '../backend/select.js';
import type { Precision } from '../backend/backend.js';
import type { ModelMeta } from '../inference/modelMeta.js';

export interface WorkerConfig {
  weights: string;
  backend: BackendChoice;
  precision: Precision;
  /** Batch sizes the worker runs (and warms up before it reports ready); batches are padded up to one of them. */
  batchSizes: number[];
}

export type ToWorker = { type: 'run'; id: number; x: Float32Array; rows: number };

export type FromWorker =
  | { type: 'ready'; meta: ModelMeta; backend: string; onnx: Uint8Array; warmupMs: number }
  | { type: 'result'; id: number; logits: Float32Array; ms: number; padded: number }
  | { type: 'failed'; id: number; message: string }
  | { type: 'error'; message: string };
