import type { Shape } from '../backend/backend.js';
import { readPthStateDict } from '../io/pth.js';
import { readSafetensors, writeSafetensors, type LoadedTensor } from '../io/safetensors.js';
import { inferArch, toCanonical, type Layout } from '../io/stateDict.js';
import { createModel, defaultInputSize, parseArch } from '../models/registry.js';
import type { Network } from '../models/network.js';
import { IMAGENET_MEAN, IMAGENET_STD, metaFromStrings, metaToStrings, type ModelMeta } from './modelMeta.js';

export type HostTensors = Map<string, { shape: Shape; data: Float32Array }>;

/** Writes the model's state dict with self-describing metadata, atomically. */
export function saveWeights(file: string, model: Network, meta: ModelMeta, extra: HostTensors = new Map()): void {
  const tensors = new Map<string, { shape: Shape; data: Float32Array }>([...model.stateDictArrays(), ...extra]);
  writeSafetensors(file, tensors, metaToStrings(meta));
}

export function toFloat32(file: string, name: string, t: LoadedTensor): Float32Array {
  if (t.data instanceof Float32Array) return t.data;
  if (t.data instanceof Float64Array || t.data instanceof Int32Array || t.data instanceof Uint8Array) return Float32Array.from(t.data);
  throw new Error(`${file}: tensor '${name}' has dtype ${t.dtype}, expected a floating-point tensor`);
}

/** Reads a safetensors weights file: float tensors by name plus whatever metadata it carries. */
export function readWeights(file: string): { tensors: HostTensors; meta: Partial<ModelMeta> } {
  const f = readSafetensors(file);
  const tensors: HostTensors = new Map();
  for (const [k, t] of f.tensors) tensors.set(k, { shape: t.shape, data: toFloat32(file, k, t) });
  return { tensors, meta: metaFromStrings(f.metadata, file) };
}

/**
 * Reads weights from a safetensors file or a PyTorch .pt/.pth checkpoint (no Python), renaming
 * the other common CIFAR-WRN layouts (the authors' code, xternalz) to ours and, without metadata,
 * inferring the architecture from names and shapes.
 */
export async function readAnyWeights(file: string, from: Layout | 'auto' = 'auto'): Promise<{ tensors: HostTensors; meta: Partial<ModelMeta> }> {
  let raw: { tensors: HostTensors; meta: Partial<ModelMeta> };
  if (/\.(pth?|pt|bin|ckpt|tar)$/i.test(file) && !file.endsWith('.safetensors')) {
    const sd = await readPthStateDict(file);
    const tensors: HostTensors = new Map();
    for (const [k, t] of sd) {
      if (k.endsWith('num_batches_tracked')) continue;
      tensors.set(k, { shape: t.shape, data: toFloat32(file, k, t) });
    }
    raw = { tensors, meta: {} };
  } else {
    raw = readWeights(file);
  }
  if (raw.meta.arch && from === 'auto') return raw;
  const { tensors } = toCanonical(raw.tensors, from, file);
  const meta = { ...raw.meta };
  if (!meta.arch) {
    try {
      const inferred = inferArch(tensors, file);
      meta.arch = inferred.arch;
      meta.classes ??= inferred.classes;
      meta.inChannels ??= inferred.inChannels;
    } catch {
      // Left to loadNetwork, which asks for --arch.
    }
  }
  return { tensors, meta };
}

export interface LoadOverrides {
  arch?: string;
  classes?: number;
  inChannels?: number;
  inputSize?: number;
}

/**
 * Builds the network a weights file describes and loads it strictly. Files without metadata (a plain
 * PyTorch state dict) need `arch`, and `classes`/`inChannels` are then read off the tensor shapes.
 */
export function loadNetwork(file: string, tensors: HostTensors, fileMeta: Partial<ModelMeta>, o: LoadOverrides = {}): { model: Network; meta: ModelMeta } {
  const arch = o.arch ?? fileMeta.arch;
  if (!arch) throw new Error(`${file}: no 'arch' in the metadata; pass --arch (e.g. --arch wrn-28-10)`);
  const fc = tensors.get('fc.weight');
  const conv = tensors.get('conv1.weight');
  const classes = o.classes ?? fileMeta.classes ?? fc?.shape[0];
  const inChannels = o.inChannels ?? fileMeta.inChannels ?? conv?.shape[1];
  if (!classes || !inChannels) throw new Error(`${file}: cannot tell the number of classes / input channels; pass --classes and --in-channels`);
  // Checked against the tensors before the model is built: the model's size follows these numbers,
  // and a file may claim any (in_channels 10^9 would allocate terabytes).
  if (fc === undefined || conv === undefined) throw new Error(`${file}: no ${fc === undefined ? 'fc.weight' : 'conv1.weight'} tensor; expected a whole network's state dict`);
  if (fc.shape[0] !== classes) throw new Error(`${file}: ${classes} classes asked for, but fc.weight has shape [${fc.shape.join(', ')}] (${fc.shape[0]} classes)`);
  if (conv.shape[1] !== inChannels) throw new Error(`${file}: ${inChannels} input channels asked for, but conv1.weight has shape [${conv.shape.join(', ')}] (${conv.shape[1]} channels)`);
  const activation = fileMeta.activation ?? 'relu';
  let model: Network;
  try {
    model = createModel(arch, { classes, inChannels, activation });
  } catch (e) {
    if (!(e instanceof Error) || e instanceof TypeError || e instanceof RangeError) throw e; // a bug, not the file
    throw new Error(`${file}: ${e.message}`);
  }
  model.loadStateDict(tensors, file);
  const meta: ModelMeta = {
    arch: model.config.arch,
    classes,
    inChannels,
    inputSize: o.inputSize ?? fileMeta.inputSize ?? defaultInputSize(arch),
    ...defaultNormalization(arch, inChannels, fileMeta),
    labels: fileMeta.labels ?? Array.from({ length: classes }, (_, i) => String(i)),
    activation,
    dropout: fileMeta.dropout ?? 0,
    ...(fileMeta.dataset ? { dataset: fileMeta.dataset } : {}),
  };
  if (meta.labels.length !== classes) throw new Error(`${file}: metadata has ${meta.labels.length} labels for ${classes} classes`);
  if (meta.mean.length !== inChannels || meta.std.length !== inChannels) {
    throw new Error(`${file}: metadata mean/std have ${meta.mean.length}/${meta.std.length} entries for ${inChannels} input channels`);
  }
  return { model, meta };
}

/**
 * The file's mean/std; without them, ImageNet's for torchvision's nets on RGB input (their weights are
 * trained on it and a bare .pth does not say so), else none (0 and 1).
 */
export function defaultNormalization(arch: string, inChannels: number, fileMeta: Partial<ModelMeta>): { mean: number[]; std: number[] } {
  const imagenet = parseArch(arch).family === 'imagenet' && inChannels === 3;
  return {
    mean: fileMeta.mean ?? (imagenet ? [...IMAGENET_MEAN] : new Array<number>(inChannels).fill(0)),
    std: fileMeta.std ?? (imagenet ? [...IMAGENET_STD] : new Array<number>(inChannels).fill(1)),
  };
}
