import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Dataset } from '../../src/data/dataset.js';

/** A fresh temporary folder, removed when the process exits. */
export function tempDir(prefix = 'wrn-data-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  process.on('exit', () => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** An IDX file of unsigned bytes. */
export function idxBytes(dims: number[], data: Uint8Array, gz = false): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head[2] = 0x08;
  head[3] = dims.length;
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  const raw = Buffer.concat([head, Buffer.from(data)]);
  return gz ? gzipSync(raw) : raw;
}

/** Deterministic pseudo-random bytes. */
export function bytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = s & 0xff;
  }
  return out;
}

/** A small in-memory uint8 dataset. */
export function randomDataset(n: number, c: number, h: number, w: number, classes = 10, seed = 7): Dataset {
  const images = new Uint8Array(new SharedArrayBuffer(n * c * h * w));
  images.set(bytes(n * c * h * w, seed));
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) labels[i] = i % classes;
  return {
    images,
    labels,
    shape: [n, c, h, w],
    classes: Array.from({ length: classes }, (_, i) => `c${i}`),
    meta: { name: 'random', split: 'train', sources: [] },
  };
}

/**
 * CIFAR records in the official binary layout: `[label]` (CIFAR-10) or `[coarse, fine]` (CIFAR-100), then
 * 1024 R, 1024 G, 1024 B bytes. Pixel (c, y, x) of record i is `pixel(i, c, y, x)`.
 */
export function pixel(i: number, c: number, y: number, x: number): number {
  return (i * 31 + c * 67 + y * 7 + x * 3) & 0xff;
}

export function cifarRecords(labels: number[][], offset = 0): Buffer {
  const lb = labels[0].length;
  const rec = lb + 3072;
  const buf = Buffer.alloc(labels.length * rec);
  labels.forEach((l, i) => {
    const o = i * rec;
    l.forEach((v, k) => (buf[o + k] = v));
    for (let c = 0; c < 3; c++) for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) buf[o + lb + c * 1024 + y * 32 + x] = pixel(offset + i, c, y, x);
  });
  return buf;
}
