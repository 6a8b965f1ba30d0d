/**
 * A small, learnable dataset for fast end-to-end tests: 1x8x8 uint8 images of 4 classes, class k
 * being a bright quadrant k over noise. Written as a safetensors file with train/test splits.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Rng } from '../../src/core/random.js';
import { writeSafetensors } from '../../src/io/safetensors.js';

export const TINY_CLASSES = 4;

function makeSplit(n: number, rng: Rng): { images: Uint8Array; labels: Int32Array } {
  const images = new Uint8Array(n * 64);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const k = i % TINY_CLASSES;
    labels[i] = k;
    for (let y = 0; y < 8; y++) {
      for (let x = 0; x < 8; x++) {
        const inQuadrant = (y < 4 ? 0 : 2) + (x < 4 ? 0 : 1) === k;
        images[i * 64 + y * 8 + x] = Math.min(255, Math.floor(rng.next() * 90 + (inQuadrant ? 140 : 0)));
      }
    }
  }
  return { images, labels };
}

/** Writes the dataset into a fresh temporary folder and returns the file path. */
export function writeTinyDataset(train = 256, test = 64, seed = 1): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wrn-tiny-'));
  const rng = new Rng(seed);
  const tr = makeSplit(train, rng);
  const te = makeSplit(test, rng);
  const file = path.join(dir, 'tiny.safetensors');
  writeSafetensors(file, {
    train_images: { data: tr.images, shape: [train, 1, 8, 8] },
    train_labels: { data: tr.labels, shape: [train], dtype: 'I64' },
    test_images: { data: te.images, shape: [test, 1, 8, 8] },
    test_labels: { data: te.labels, shape: [test], dtype: 'I64' },
  });
  return file;
}
