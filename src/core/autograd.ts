import { engine } from './engine.js';
import { Tensor, type GradFn } from './tensor.js';
import { formatShape, sameShape } from './shape.js';

/** True when an op on these inputs must record a backward. */
export function needsGrad(...inputs: (Tensor | null | undefined)[]): boolean {
  return engine.gradEnabled && inputs.some((t) => t !== null && t !== undefined && t.requiresGrad);
}

/** Attaches a backward to an op's output. */
export function record(out: Tensor, fn: GradFn): Tensor {
  out.requiresGrad = true;
  out.gradFn = fn;
  for (const t of fn.reads ?? [...fn.inputs, out]) t.readers++;
  return out;
}

/** Graph nodes in reverse topological order (outputs before inputs). */
function reverseTopo(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  // Iterative DFS: WRN-1001-style graphs are deeper than the JS stack likes.
  const stack: [Tensor, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const [t, i] = top;
    const inputs = t.gradFn?.inputs ?? [];
    if (i < inputs.length) {
      top[1] = i + 1;
      const child = inputs[i];
      if (child.requiresGrad && !seen.has(child)) {
        seen.add(child);
        stack.push([child, 0]);
      }
    } else {
      stack.pop();
      order.push(t);
    }
  }
  return order.reverse();
}

/** Observers of a backward pass. */
export interface BackwardHooks {
  /**
   * Called once a leaf's gradient for this pass is complete (after accumulation into `.grad`), in the
   * order backward reaches the leaves: data-parallel training launches gradient allreduces from here
   * while the rest of backward runs.
   */
  onLeafGrad?(leaf: Tensor): void;
}

/**
 * Reverse-mode autodiff from a scalar (or from `root` with an explicit upstream gradient).
 * Leaf tensors that require grad receive `.grad` (accumulated, kept out of `tidy` scopes).
 * Intermediate gradients are freed as soon as they have been propagated.
 */
export function backward(root: Tensor, upstream?: Tensor, hooks: BackwardHooks = {}): void {
  if (!root.requiresGrad) throw new Error('backward(): the tensor does not require grad');
  if (!upstream && root.size !== 1) {
    throw new Error(`backward(): tensor ${formatShape(root.shape)} is not a scalar; pass the upstream gradient`);
  }
  const grads = new Map<Tensor, Tensor>();
  grads.set(root, upstream ?? Tensor.fromArray(new Float32Array([1]), root.shape));
  for (const t of reverseTopo(root)) {
    const g = grads.get(t);
    if (!g) continue;
    grads.delete(t);
    if (!t.gradFn) {
      // Every consumer ran before the leaf in reverse topological order: its gradient is final here.
      accumulateLeaf(t, g);
      hooks.onLeafGrad?.(t);
      continue;
    }
    const inputGrads = t.gradFn.backward(g);
    if (g !== upstream) g.dispose();
    t.gradFn.inputs.forEach((input, i) => {
      const gi = inputGrads[i];
      if (!gi) return;
      if (!input.requiresGrad) {
        gi.dispose();
        return;
      }
      if (!sameShape(gi.shape, input.shape)) {
        throw new Error(`${t.gradFn?.name} backward: gradient ${formatShape(gi.shape)} for input ${formatShape(input.shape)}`);
      }
      const prev = grads.get(input);
      if (prev) {
        prev.backend.addInPlace(prev.storage, gi.storage, prev.shape);
        gi.dispose();
      } else {
        grads.set(input, gi);
      }
    });
  }
}

function accumulateLeaf(leaf: Tensor, g: Tensor): void {
  if (leaf.grad) {
    leaf.backend.addInPlace(leaf.grad.storage, g.storage, leaf.shape);
    g.dispose();
  } else {
    leaf.grad = g.keep();
  }
}
