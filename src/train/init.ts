import type { Shape } from '../backend/backend.js';
import { canonicalArch } from '../models/registry.js';
import type { Network } from '../models/network.js';
import { defaultNormalization, readAnyWeights, type HostTensors } from '../inference/weights.js';

/** What fine-tuning from a weights file changed, for the run's output. */
export interface InitResult {
  /** Lines to show the user (classifier replaced, channels adapted, normalisation used). */
  notes: string[];
  /** Normalisation the weights were trained with, when known (the data's own is used otherwise). */
  normalization: { mean: number[]; std: number[] } | null;
}

/**
 * Starts a run from pretrained weights (`wrn train --init`): every tensor is loaded strictly except
 * the classifier, which is replaced by a fresh one when the class count or the class names differ.
 * RGB weights on greyscale data are adapted as timm does (conv1 summed over its input channels);
 * other channel mismatches and weights of another architecture are refused in one line.
 */
export async function initFromWeights(model: Network, file: string, dataLabels: readonly string[]): Promise<InitResult> {
  const { tensors, meta } = await readAnyWeights(file);
  const arch = model.config.arch;
  if (meta.arch && canonicalOrSelf(meta.arch) !== arch) {
    throw new Error(`--init ${file}: the weights are ${meta.arch}, this run trains ${arch} (use --arch ${canonicalOrSelf(meta.arch)})`);
  }
  const notes: string[] = [];
  const channels = adaptInputChannels(file, tensors, model.config.inChannels, notes);
  const fc = tensors.get('fc.weight');
  const classes = model.config.classes;
  const namesDiffer = meta.labels !== undefined && meta.labels.join('\n') !== dataLabels.join('\n');
  if (fc && (fc.shape[0] !== classes || namesDiffer)) {
    tensors.delete('fc.weight');
    tensors.delete('fc.bias');
    const own = model.stateDict();
    tensors.set('fc.weight', host(own.get('fc.weight')!.shape, own.get('fc.weight')!.toArray()));
    tensors.set('fc.bias', host(own.get('fc.bias')!.shape, own.get('fc.bias')!.toArray()));
    notes.push(`classifier replaced: the weights classify ${fc.shape[0]} classes${namesDiffer ? ` (${meta.labels!.slice(0, 3).join(', ')}, ...)` : ''}, ` +
      `the data has ${classes}${namesDiffer ? ` (${dataLabels.slice(0, 3).join(', ')}, ...)` : ''}`);
  }
  model.loadStateDict(tensors, `--init ${file}`);
  notes.unshift(`initialised from ${file} (${tensors.size} tensors)`);
  // The weights' own normalisation, else ImageNet's for torchvision nets, else (null) the data's.
  const torchvision = defaultNormalization(arch, 3, {});
  const known = meta.mean && meta.std ? { mean: meta.mean, std: meta.std } : torchvision.mean.some((v) => v !== 0) ? torchvision : null;
  const normalization = known && channels === 'summed' ? { mean: [avg(known.mean)], std: [avg(known.std)] } : known;
  if (normalization) notes.push(`normalisation of the weights: mean ${fmt(normalization.mean)}, std ${fmt(normalization.std)}`);
  return { notes, normalization };
}

/** RGB conv1 on greyscale data: summed over the input channels (timm's adapt_input_conv). */
function adaptInputChannels(file: string, tensors: HostTensors, want: number, notes: string[]): 'same' | 'summed' {
  const w = tensors.get('conv1.weight');
  if (!w || w.shape[1] === want) return 'same';
  const [o, c, kh, kw] = w.shape;
  if (c !== 3 || want !== 1) {
    throw new Error(`--init ${file}: conv1 takes ${c} input channel(s), the data has ${want}; only RGB weights on greyscale data can be adapted`);
  }
  const k = kh * kw;
  const summed = new Float32Array(o * k);
  for (let i = 0; i < o; i++) {
    for (let ch = 0; ch < c; ch++) for (let j = 0; j < k; j++) summed[i * k + j] += w.data[(i * c + ch) * k + j];
  }
  tensors.set('conv1.weight', host([o, 1, kh, kw], summed));
  notes.push('conv1 adapted to greyscale input: its RGB weights summed over the input channels (as timm does)');
  return 'summed';
}

function canonicalOrSelf(arch: string): string {
  try {
    return canonicalArch(arch);
  } catch {
    return arch;
  }
}

function host(shape: Shape, data: Float32Array): { shape: Shape; data: Float32Array } {
  return { shape, data };
}

const avg = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
const fmt = (v: number[]): string => `[${v.map((x) => x.toFixed(4)).join(', ')}]`;
