import type { Activation } from '../backend/backend.js';
import { needsGrad, record } from '../core/autograd.js';
import { assertShape } from '../core/shape.js';
import { type Tensor, wrap } from '../core/tensor.js';
import { gradFn } from './gradFn.js';

export function activation(kind: Activation, x: Tensor): Tensor {
  const b = x.backend;
  const y = wrap(b.activation(kind, x.storage, x.shape), x.shape, b);
  if (!needsGrad(x)) return y;
  return record(y, gradFn(kind, [x], (dy) => [wrap(b.activationBackward(kind, dy.storage, x.storage, y.storage, x.shape), x.shape, b)], [], [x, y]));
}

export const relu = (x: Tensor): Tensor => activation('relu', x);

/** Inverted dropout with a stateless, seeded mask (see `dropoutKeep`). Identity when p = 0. */
export function dropout(x: Tensor, p: number, seed: number): Tensor {
  if (!(p >= 0 && p < 1)) throw new Error(`dropout: p must be in [0, 1), got ${p}`);
  const b = x.backend;
  const y = wrap(b.dropout(x.storage, x.shape, p, seed), x.shape, b);
  if (!needsGrad(x)) return y;
  return record(y, gradFn('dropout', [x], (dy) => [wrap(b.dropoutBackward(dy.storage, x.shape, p, seed), x.shape, b)], [], []));
}

/** Elementwise sum of two same-shaped tensors (the residual connection). */
export function add(a: Tensor, c: Tensor): Tensor {
  assertShape('add', c.shape, a.shape);
  const b = a.backend;
  const y = wrap(b.add(a.storage, c.storage, a.shape), a.shape, b);
  if (!needsGrad(a, c)) return y;
  // The gradient flows unchanged to both operands; each gets its own copy so that ownership stays simple.
  return record(y, gradFn('add', [a, c], (dy) => [
    a.requiresGrad ? copy(dy) : null,
    c.requiresGrad ? copy(dy) : null,
  ], [], []));
}

function copy(t: Tensor): Tensor {
  const b = t.backend;
  const z = b.zeros(t.shape);
  b.addInPlace(z, t.storage, t.shape);
  return wrap(z, t.shape, b);
}
