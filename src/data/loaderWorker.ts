/** Worker thread of DataLoader: builds batches from the shared (SharedArrayBuffer) images. */
import { parentPort } from 'node:worker_threads';
import { normalizeLut, transformBatch, type TransformSpec } from './transforms.js';
import type { ImageArray } from './dataset.js';

interface State {
  images: ImageArray;
  shape: [number, number, number, number];
  spec: TransformSpec;
  seed: number;
  lut: Float32Array | null;
}

let state: State | null = null;
const port = parentPort;
if (!port) throw new Error('loaderWorker.js must run as a worker thread');

port.on('message', (m: { type: string; [k: string]: unknown }) => {
  if (m.type === 'init') {
    const images = m.images as ImageArray;
    const shape = m.shape as [number, number, number, number];
    const spec = m.spec as TransformSpec;
    state = { images, shape, spec, seed: m.seed as number, lut: images instanceof Uint8Array ? normalizeLut(spec, shape[1]) : null };
    return;
  }
  if (m.type === 'batch') {
    const id = m.id as number;
    try {
      if (!state) throw new Error('worker not initialised');
      const indices = m.indices as Int32Array;
      const out = transformBatch(state.images, state.shape, indices, state.spec, state.seed, m.epoch as number, m.augment as boolean, undefined, state.lut);
      port.postMessage({ type: 'batch', id, images: out }, [out.buffer as ArrayBuffer]);
    } catch (err) {
      port.postMessage({ type: 'batch', id, error: (err as Error).message ?? String(err) });
    }
  }
});
