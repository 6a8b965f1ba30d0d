import { needsGrad, record } from '../core/autograd.js';
import { formatShape } from '../core/shape.js';
import { type Tensor, wrap } from '../core/tensor.js';
import { gradFn } from './gradFn.js';

/** Mean softmax cross-entropy over the batch (PyTorch's F.cross_entropy, with label smoothing). */
export function crossEntropy(logits: Tensor, labels: Int32Array, labelSmoothing = 0): Tensor {
  const [n, k] = logits.shape;
  if (logits.shape.length !== 2 || labels.length !== n) {
    throw new Error(`crossEntropy: logits ${formatShape(logits.shape)} for ${labels.length} labels`);
  }
  for (const l of labels) {
    if (!(l >= 0 && l < k)) throw new Error(`crossEntropy: label ${l} outside [0, ${k})`);
  }
  if (!(labelSmoothing >= 0 && labelSmoothing < 1)) throw new Error(`crossEntropy: label smoothing must be in [0, 1), got ${labelSmoothing}`);
  const b = logits.backend;
  const { loss, dlogits } = b.softmaxCrossEntropy(logits.storage, logits.shape, labels, labelSmoothing);
  const out = wrap(b.upload(new Float32Array([loss]), []), [], b);
  if (!needsGrad(logits)) {
    b.dispose(dlogits);
    return out;
  }
  // d(loss)/d(logits) is computed with the loss; backward only scales it by the upstream gradient.
  return record(out, gradFn('crossEntropy', [logits], (dy) => {
    const scale = dy.item();
    const g = wrap(b.zeros(logits.shape), logits.shape, b);
    if (scale === 1) b.addInPlace(g.storage, dlogits, logits.shape);
    else {
      const host = b.read(dlogits, logits.shape).map((v) => v * scale);
      g.assign(host);
    }
    return [g];
  }, [dlogits]));
}
