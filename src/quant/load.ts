/**
 * Loading an int8 weights file for inference: only the oneDNN backend runs it; with any other backend
 * selected the load fails with one line rather than quietly running something else.
 */
import { getBackend, engine } from '../core/engine.js';
import { openSafetensors } from '../io/safetensors.js';
import { defaultInputSize } from '../models/registry.js';
import type { ModelMeta } from '../inference/modelMeta.js';
import { isInt8Metadata, readInt8Weights } from './int8File.js';
import { buildInt8Model, type Int8Model } from './int8Model.js';

/** True when `file` is a safetensors file whose metadata marks int8 weights. */
export function isInt8File(file: string): boolean {
  if (!file.endsWith('.safetensors')) return false;
  const f = openSafetensors(file);
  try {
    return isInt8Metadata(f.metadata);
  } finally {
    f.close();
  }
}

export function loadInt8(file: string): { model: Int8Model; meta: ModelMeta } {
  const backend = engine.hasBackend() ? getBackend().name : 'none';
  if (backend !== 'native') {
    throw new Error(`${file}: int8 weights run on the oneDNN (native) backend only, not on '${backend}'; use --backend native, or the fp32 weights`);
  }
  const { weights, meta: m } = readInt8Weights(file);
  if (!m.arch || !m.classes || !m.inChannels) throw new Error(`${file}: int8 metadata lacks arch, classes or in_channels`);
  const model = buildInt8Model(weights, { arch: m.arch, classes: m.classes, inChannels: m.inChannels, activation: m.activation ?? 'relu' }, file);
  // The weights changed to run here (8 -> 7 bits without VNNI): say so on stderr rather than silently.
  if (model.notice) console.error(`${file}: ${model.notice}`);
  const c = m.inChannels;
  const meta: ModelMeta = {
    arch: m.arch, classes: m.classes, inChannels: c, inputSize: m.inputSize ?? defaultInputSize(m.arch),
    mean: m.mean ?? new Array<number>(c).fill(0), std: m.std ?? new Array<number>(c).fill(1),
    labels: m.labels ?? Array.from({ length: m.classes }, (_, i) => String(i)),
    activation: m.activation ?? 'relu', dropout: 0, ...(m.dataset ? { dataset: m.dataset } : {}),
  };
  return { model, meta };
}
