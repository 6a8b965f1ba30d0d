/**
 * One step of torch.optim.SGD for one parameter, in place:
 *   g = grad + weightDecay * p
 *   if momentum != 0: buf = firstStep ? g : momentum * buf + (1 - dampening) * g
 *                     g = nesterov ? g + momentum * buf : buf
 *   p -= lr * g
 */
import type { SgdOptions } from '../backend.js';
import type { FloatArray } from './types.js';

export function sgdStep(param: FloatArray, grad: FloatArray, momentumBuf: FloatArray | null, opts: SgdOptions): void {
  const { lr, momentum, dampening, weightDecay, nesterov, firstStep } = opts;
  const n = param.length;
  if (grad.length !== n) throw new Error(`sgdStep: gradient holds ${grad.length} values for a parameter of ${n}`);
  if (nesterov && (momentum <= 0 || dampening !== 0)) {
    throw new Error('sgdStep: Nesterov momentum requires a momentum and zero dampening');
  }
  if (momentum === 0) {
    for (let i = 0; i < n; i++) param[i] -= lr * (grad[i] + weightDecay * param[i]);
    return;
  }
  if (!momentumBuf) throw new Error('sgdStep: momentum is set but no momentum buffer was given');
  if (momentumBuf.length !== n) throw new Error(`sgdStep: momentum buffer holds ${momentumBuf.length} values for a parameter of ${n}`);
  const keep = 1 - dampening;
  for (let i = 0; i < n; i++) {
    const g = grad[i] + weightDecay * param[i];
    momentumBuf[i] = firstStep ? g : momentum * momentumBuf[i] + keep * g;
    const b = momentumBuf[i]; // read back: the buffer's own precision, as PyTorch's float32 buffer
    param[i] -= lr * (nesterov ? g + momentum * b : b);
  }
}
