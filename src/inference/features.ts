import type { Shape } from '../backend/backend.js';
import { MetaBackend } from '../backend/meta.js';
import { noGrad, tidy } from '../core/engine.js';
import { formatShape } from '../core/shape.js';
import { Tensor } from '../core/tensor.js';
import { SafetensorsStreamWriter, type StreamedTensor } from '../io/safetensors.js';
import type { Network } from '../models/network.js';
import { globalAvgPool } from '../ops/index.js';

/** One batch of already-normalised images [n, C, H, W], with labels when the data has them. */
export interface FeatureBatch {
  x: Float32Array;
  shape: Shape;
  labels?: Int32Array;
}

export interface ExtractFeaturesOptions {
  /** Stage names (`layer2`) or indices. */
  stages: readonly (string | number)[];
  /** `avg`: global average pool each map to [N, C]; `none`: keep [N, C, h, w]. */
  pool: 'avg' | 'none';
  /** Images in all batches and their [C, H, W]: the file's header is written before the first batch. */
  count: number;
  imageShape: readonly [number, number, number];
  labels: boolean;
  metadata?: Record<string, string>;
  /** Called after every batch with the images done so far. */
  onProgress?(done: number, total: number): void;
}

/** The output tensors of each selected stage for one image of shape [C, H, W] (from the meta forward). */
export function stageShapes(model: Network, indices: readonly number[], [c, h, w]: readonly number[]): Shape[] {
  if (c !== model.config.inChannels) {
    throw new Error(`images have ${c} channel(s), ${model.config.arch} takes ${model.config.inChannels}`);
  }
  const meta = new MetaBackend();
  const shape = [1, c, h, w];
  const shapes = noGrad(() => tidy(() => model.forwardStages(new Tensor(meta.zeros(shape), shape, meta), indices).map((t) => t.shape)));
  const names = model.stageNames();
  shapes.forEach((s, i) => {
    if (s.some((d) => !(d >= 1))) throw new Error(`images of ${c}x${h}x${w} are too small for ${model.config.arch}: ${names[indices[i]]} would be ${formatShape(s.slice(1))}`);
  });
  return shapes.map((s) => s.slice(1));
}

/**
 * Runs the model's stages over the batches and streams the feature maps to a safetensors file
 * (one tensor per stage, named after it, plus `labels`), so that a data set's spatial features need
 * not fit in memory. The file appears only when complete.
 */
export async function extractFeatures(
  model: Network, batches: AsyncIterable<FeatureBatch> | Iterable<FeatureBatch>, out: string, o: ExtractFeaturesOptions,
): Promise<StreamedTensor[]> {
  const indices = model.stageIndices(o.stages);
  const names = indices.map((i) => model.stageNames()[i]);
  const perImage = stageShapes(model, indices, o.imageShape).map((s) => (o.pool === 'avg' ? [s[0]] : s));
  const tensors: StreamedTensor[] = names.map((name, i) => ({ name, dtype: 'F32', shape: [o.count, ...perImage[i]] }));
  if (o.labels) tensors.push({ name: 'labels', dtype: 'I32', shape: [o.count] });
  const writer = new SafetensorsStreamWriter(out, tensors, o.metadata);
  const sizes = perImage.map((s) => s.reduce((a, b) => a * b, 1));
  model.eval();
  let done = 0;
  try {
    for await (const b of batches) {
      const n = b.shape[0];
      if (done + n > o.count) throw new Error(`more than the announced ${o.count} images`);
      const maps = noGrad(() => tidy(() => model.forwardStages(Tensor.fromArray(b.x, b.shape), indices)
        .map((t) => (o.pool === 'avg' ? globalAvgPool(t) : t).toArray())));
      maps.forEach((m, i) => writer.write(names[i], done * sizes[i], m));
      if (o.labels && b.labels) writer.write('labels', done, b.labels);
      done += n;
      o.onProgress?.(done, o.count);
    }
    if (done !== o.count) throw new Error(`${done} images arrived, ${o.count} were announced`);
    writer.commit();
  } catch (e) {
    writer.abort();
    throw e;
  }
  return tensors;
}
