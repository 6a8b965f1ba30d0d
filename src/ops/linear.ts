import { needsGrad, record } from '../core/autograd.js';
import { formatShape } from '../core/shape.js';
import { type Tensor, wrap } from '../core/tensor.js';
import { gradFn } from './gradFn.js';

/** y = x w^T + b for x [N,in], w [out,in], b [out]. */
export function linear(x: Tensor, w: Tensor, bias: Tensor | null): Tensor {
  if (x.shape.length !== 2 || w.shape.length !== 2 || x.shape[1] !== w.shape[1]) {
    throw new Error(`linear: input ${formatShape(x.shape)} and weight ${formatShape(w.shape)} do not match`);
  }
  const b = x.backend;
  const y = wrap(b.linear(x.storage, x.shape, w.storage, w.shape, bias?.storage ?? null), [x.shape[0], w.shape[0]], b);
  const inputs = bias ? [x, w, bias] : [x, w];
  if (!needsGrad(...inputs)) return y;
  return record(y, gradFn('linear', inputs, (dy) => {
    const r = b.linearBackward(dy.storage, x.storage, x.shape, w.storage, w.shape, bias !== null);
    const grads = [wrap(r.dx, x.shape, b), wrap(r.dw, w.shape, b)];
    if (bias && r.db) grads.push(wrap(r.db, bias.shape, b));
    return grads;
  }));
}
