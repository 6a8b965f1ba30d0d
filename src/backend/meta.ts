import type { Backend, Precision, Saved, Shape, Storage } from './backend.js';
import { sizeOf } from '../core/shape.js';

/**
 * A backend that holds shapes only: models built on it allocate and initialise nothing, so
 * `wrn summary wide-resnet101-2` (127M parameters) is instant. Every compute kernel refuses.
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

  conv2d = (): Storage => refuse('conv2d');
  conv2dBackwardData = (): Storage => refuse('conv2dBackwardData');
  conv2dBackwardWeights = (): Storage => refuse('conv2dBackwardWeights');
  batchNormTrain = (): { y: Storage; saved: Saved } => refuse('batchNormTrain');
  batchNormInfer = (): Storage => refuse('batchNormInfer');
  batchNormBackward = (): { dx: Storage; dgamma: Storage; dbeta: Storage } => refuse('batchNormBackward');
  activation = (): Storage => refuse('activation');
  activationBackward = (): Storage => refuse('activationBackward');
  dropout = (): Storage => refuse('dropout');
  dropoutBackward = (): Storage => refuse('dropoutBackward');
  add = (): Storage => refuse('add');
  addInPlace = (): void => refuse('addInPlace');
  globalAvgPool = (): Storage => refuse('globalAvgPool');
  globalAvgPoolBackward = (): Storage => refuse('globalAvgPoolBackward');
  maxPool2d = (): { y: Storage; saved: Saved } => refuse('maxPool2d');
  maxPool2dBackward = (): Storage => refuse('maxPool2dBackward');
  linear = (): Storage => refuse('linear');
  linearBackward = (): { dx: Storage; dw: Storage; db: Storage | null } => refuse('linearBackward');
  softmaxCrossEntropy = (): { loss: number; dlogits: Storage } => refuse('softmaxCrossEntropy');
  sgdStep = (): void => refuse('sgdStep');
}

function refuse(kernel: string): never {
  throw new Error(`meta backend: ${kernel} needs data; build the model on a compute backend (js or native)`);
}
