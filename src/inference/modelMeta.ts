import type { Activation } from '../backend/backend.js';
import { ACTIVATIONS } from '../backend/backend.js';

/**
 * Everything needed to rebuild a trained network and feed it correctly, stored as string fields in
 * the safetensors `__metadata__` so that the weights file describes itself.
 */
export interface ModelMeta {
  arch: string;
  classes: number;
  inChannels: number;
  inputSize: number;
  /** Per-channel normalisation of [0, 1] pixels computed on the training split. */
  mean: number[];
  std: number[];
  /** Class names, index = class id. */
  labels: string[];
  activation: Activation;
  dropout: number;
  /** Name of the dataset it was trained on, if any. */
  dataset?: string;
}

export const FORMAT = 'wide-resnet/1';

/** torchvision's ImageNet normalisation, for its weights (which carry no metadata). */
export const IMAGENET_MEAN = [0.485, 0.456, 0.406];
export const IMAGENET_STD = [0.229, 0.224, 0.225];

export function metaToStrings(m: ModelMeta): Record<string, string> {
  return {
    format: FORMAT,
    arch: m.arch,
    classes: String(m.classes),
    in_channels: String(m.inChannels),
    input_size: String(m.inputSize),
    mean: JSON.stringify(m.mean),
    std: JSON.stringify(m.std),
    labels: JSON.stringify(m.labels),
    activation: m.activation,
    dropout: String(m.dropout),
    ...(m.dataset ? { dataset: m.dataset } : {}),
  };
}

/** Partial metadata from a header (plain PyTorch files carry none or only some of it). */
export function metaFromStrings(s: Record<string, string>, file: string): Partial<ModelMeta> {
  const out: Partial<ModelMeta> = {};
  const int = (k: string): number | undefined => {
    if (s[k] === undefined) return undefined;
    const n = Number(s[k]);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${file}: metadata field '${k}' is '${s[k]}', expected a positive integer`);
    return n;
  };
  const numbers = (k: string): number[] | undefined => {
    if (s[k] === undefined) return undefined;
    const v: unknown = safeJson(s[k]);
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      throw new Error(`${file}: metadata field '${k}' is '${s[k]}', expected a JSON array of numbers`);
    }
    return v as number[];
  };
  if (s.arch !== undefined) out.arch = s.arch;
  out.classes = int('classes');
  out.inChannels = int('in_channels');
  out.inputSize = int('input_size');
  out.mean = numbers('mean');
  out.std = numbers('std');
  if (s.labels !== undefined) {
    const v: unknown = safeJson(s.labels);
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
      throw new Error(`${file}: metadata field 'labels' is not a JSON array of strings`);
    }
    out.labels = v as string[];
  }
  if (s.activation !== undefined) {
    if (!(ACTIVATIONS as readonly string[]).includes(s.activation)) {
      throw new Error(`${file}: metadata field 'activation' is '${s.activation}', expected one of ${ACTIVATIONS.join(', ')}`);
    }
    out.activation = s.activation as Activation;
  }
  if (s.dropout !== undefined) out.dropout = Number(s.dropout);
  if (s.dataset !== undefined) out.dataset = s.dataset;
  for (const k of Object.keys(out) as (keyof ModelMeta)[]) if (out[k] === undefined) delete out[k];
  return out;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
