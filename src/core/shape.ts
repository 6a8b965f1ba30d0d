import type { Shape } from '../backend/backend.js';

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function formatShape(shape: Shape): string {
  return `[${shape.join(',')}]`;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function assertShape(what: string, actual: Shape, expected: Shape): void {
  if (!sameShape(actual, expected)) {
    throw new Error(`${what}: shape ${formatShape(actual)}, expected ${formatShape(expected)}`);
  }
}

/** Output size of a convolution / pooling window along one axis. */
export function convOutSize(inSize: number, kernel: number, stride: number, padding: number): number {
  return Math.floor((inSize + 2 * padding - kernel) / stride) + 1;
}
