import type { Activation, Backend, Conv2dOptions, Precision, Saved, Shape, Storage } from './backend.js';
import { convOutSize, sizeOf } from '../core/shape.js';

/**
 * A backend that holds shapes only: models built on it allocate and initialise nothing, so
 * `wrn summary wide-resnet101-2` (127M parameters) is instant. Forward kernels only work out their
 * output's shape; anything that needs values (read, backward, loss, optimizer) refuses.
 */
export class MetaBackend implements Backend {
  readonly name = 'meta';
  readonly precision: Precision = 'fp32';

  describe(): string {
    return 'meta (shapes only, no data)';
  }

  setPrecision(p: Precision): void {
    if (p !== 'fp32') throw new Error('the meta backend has no precision');
  }

  upload(_data: Float32Array, shape: Shape): Storage {
    return { size: sizeOf(shape) };
  }

  zeros(shape: Shape): Storage {
    return { size: sizeOf(shape) };
  }

  dispose(_x: Storage | Saved): void {}

  read(): Float32Array {
    return refuse('read');
  }

  // Forward kernels return an empty storage of the output's size, so that running a model's forward
  // on meta tensors yields every shape (wrn summary, feature info, activation lifetimes). Backward
  // kernels need gradients and refuse.
  conv2d = (_x: Storage, [n, , h, w]: Shape, _w: Storage, [o, , kh, kw]: Shape, opts: Conv2dOptions): Storage =>
    this.zeros([n, o, convOutSize(h, kh, opts.stride, opts.padding), convOutSize(w, kw, opts.stride, opts.padding)]);
  conv2dBackwardData = (): Storage => refuse('conv2dBackwardData');
  conv2dBackwardWeights = (): Storage => refuse('conv2dBackwardWeights');
  batchNormTrain = (_x: Storage, shape: Shape): { y: Storage; saved: Saved } => ({ y: this.zeros(shape), saved: { kind: 'meta' } });
  batchNormInfer = (_x: Storage, shape: Shape): Storage => this.zeros(shape);
  batchNormBackward = (): { dx: Storage; dgamma: Storage; dbeta: Storage } => refuse('batchNormBackward');
  activation = (_kind: Activation, _x: Storage, shape: Shape): Storage => this.zeros(shape);
  activationBackward = (): Storage => refuse('activationBackward');
  dropout = (_x: Storage, shape: Shape): Storage => this.zeros(shape);
  dropoutBackward = (): Storage => refuse('dropoutBackward');
  add = (_a: Storage, _b: Storage, shape: Shape): Storage => this.zeros(shape);
  addInPlace = (): void => refuse('addInPlace');
  globalAvgPool = (_x: Storage, [n, c]: Shape): Storage => this.zeros([n, c]);
  globalAvgPoolBackward = (): Storage => refuse('globalAvgPoolBackward');
  maxPool2d = (_x: Storage, [n, c, h, w]: Shape, kernel: number, stride: number, padding: number): { y: Storage; saved: Saved } => ({
    y: this.zeros([n, c, convOutSize(h, kernel, stride, padding), convOutSize(w, kernel, stride, padding)]), saved: { kind: 'meta' },
  });
  maxPool2dBackward = (): Storage => refuse('maxPool2dBackward');
  linear = (_x: Storage, [n]: Shape, _w: Storage, [o]: Shape): Storage => this.zeros([n, o]);
  linearBackward = (): { dx: Storage; dw: Storage; db: Storage | null } => refuse('linearBackward');
  softmaxCrossEntropy = (): { loss: number; dlogits: Storage } => refuse('softmaxCrossEntropy');
  sgdStep = (): void => refuse('sgdStep');
}

function refuse(kernel: string): never {
  throw new Error(`meta backend: ${kernel} needs data; build the model on a compute backend (js or native)`);
}
