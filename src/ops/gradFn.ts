import type { Saved, Storage } from '../backend/backend.js';
import type { GradFn, Tensor } from '../core/tensor.js';

/**
 * Builds a GradFn whose saved backend contexts are freed once, on release. `reads`: the tensors the
 * backward reads (default: every input and the output; see GradFn.reads).
 */
export function gradFn(
  name: string,
  inputs: readonly Tensor[],
  backward: (dy: Tensor) => (Tensor | null)[],
  saved: (Storage | Saved | null)[] = [],
  reads?: readonly Tensor[],
): GradFn {
  let released = false;
  return {
    name,
    inputs,
    reads,
    backward,
    release() {
      if (released || inputs.length === 0) return;
      released = true;
      const b = inputs[0].backend;
      for (const s of saved) if (s) b.dispose(s);
    },
  };
}
