import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Network } from '../models/network.js';
import type { SGD } from '../optim/sgd.js';
import { metaFromStrings, metaToStrings, type ModelMeta } from '../inference/modelMeta.js';
import { parseSafetensors, writeSafetensors } from '../io/safetensors.js';
import type { HostTensors } from '../inference/weights.js';
import { toFloat32 } from '../inference/weights.js';

/** Where a run stands at an epoch boundary: enough to continue bit-exactly. */
export interface TrainState {
  /** Epochs completed. */
  epoch: number;
  /** Optimizer steps taken. */
  step: number;
  /** State of the model's Rng (dropout masks) after `epoch` epochs. */
  rng: number[];
  best: { epoch: number; valAcc: number; valLoss: number } | null;
  /** Data-parallel runs: how many ranks wrote it, and every rank's dropout Rng state (rank order). */
  worldSize?: number;
  rankRngs?: number[][];
}

export const CHECKPOINT_FILE = 'checkpoint.safetensors';

/**
 * One file, written atomically: `model.<param>` weights and buffers, `momentum.<param>` SGD buffers,
 * and the model metadata plus `train_state` (JSON) and `train_config` (JSON) in `__metadata__`.
 */
export function saveCheckpoint(dir: string, model: Network, opt: SGD, meta: ModelMeta, state: TrainState, config: object): string {
  const tensors: HostTensors = new Map();
  for (const [k, v] of model.stateDictArrays()) tensors.set(`model.${k}`, v);
  const params = new Map(model.namedParameters());
  for (const [k, data] of opt.state().momentum) tensors.set(`momentum.${k}`, { shape: params.get(k)!.shape, data });
  const file = path.join(dir, CHECKPOINT_FILE);
  writeSafetensors(file, tensors, {
    ...metaToStrings(meta),
    train_state: JSON.stringify({ ...state, optimizer_steps: opt.stepCount }),
    train_config: JSON.stringify(config),
  });
  return file;
}

export interface LoadedCheckpoint {
  file: string;
  meta: Partial<ModelMeta>;
  state: TrainState;
  config: Record<string, unknown>;
  model: HostTensors;
  momentum: Map<string, Float32Array>;
  optimizerSteps: number;
}

/** The checkpoint file's bytes (a data-parallel run's rank 0 reads them and broadcasts them). */
export function readCheckpointBytes(dir: string): Uint8Array {
  const file = path.join(dir, CHECKPOINT_FILE);
  if (!existsSync(file)) throw new Error(`${file}: no checkpoint to resume from (expected the file a previous 'wrn train --out ${dir}' writes after each epoch)`);
  // A plain Uint8Array, not a Buffer: Buffer.slice() shares memory, which parseSafetensors relies on not doing.
  return new Uint8Array(readFileSync(file));
}

export function readCheckpoint(dir: string): LoadedCheckpoint {
  return parseCheckpoint(readCheckpointBytes(dir), path.join(dir, CHECKPOINT_FILE));
}

export function parseCheckpoint(bytes: Uint8Array, file: string): LoadedCheckpoint {
  const f = parseSafetensors(bytes, file);
  const parse = (key: string): Record<string, unknown> => {
    const text = f.metadata[key];
    if (text === undefined) throw new Error(`${file}: metadata field '${key}' is missing`);
    try {
      return JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new Error(`${file}: metadata field '${key}' is not valid JSON`);
    }
  };
  const st = parse('train_state');
  if (typeof st.epoch !== 'number' || typeof st.step !== 'number' || !Array.isArray(st.rng)) {
    throw new Error(`${file}: metadata field 'train_state' lacks epoch/step/rng`);
  }
  const model: HostTensors = new Map();
  const momentum = new Map<string, Float32Array>();
  for (const [k, t] of f.tensors) {
    if (k.startsWith('model.')) model.set(k.slice(6), { shape: t.shape, data: toFloat32(file, k, t) });
    else if (k.startsWith('momentum.')) momentum.set(k.slice(9), toFloat32(file, k, t));
    else throw new Error(`${file}: unexpected tensor '${k}' (expected model.* or momentum.*)`);
  }
  return {
    file,
    meta: metaFromStrings(f.metadata, file),
    state: {
      epoch: st.epoch, step: st.step, rng: st.rng as number[], best: (st.best as TrainState['best']) ?? null,
      ...(typeof st.worldSize === 'number' ? { worldSize: st.worldSize } : {}),
      ...(Array.isArray(st.rankRngs) ? { rankRngs: st.rankRngs as number[][] } : {}),
    },
    config: parse('train_config'),
    model,
    momentum,
    optimizerSteps: typeof st.optimizer_steps === 'number' ? st.optimizer_steps : st.step,
  };
}
