import type { Shape } from '../backend/backend.js';
import { formatShape, sameShape } from '../core/shape.js';
import { engine } from '../core/engine.js';
import { Tensor } from '../core/tensor.js';

/**
 * Base of every layer and model, PyTorch-style: named parameters, buffers and children, a
 * train/eval flag, and a state dict in dotted names (`layer1.0.bn1.weight`).
 */
export abstract class Module {
  training = true;
  private readonly params_ = new Map<string, Tensor>();
  private readonly buffers_ = new Map<string, Tensor>();
  private readonly children_ = new Map<string, Module>();

  /** Frozen modules stay in eval mode whatever train() says (see freeze()). */
  frozen = false;

  abstract forward(x: Tensor): Tensor;

  protected registerParameter(name: string, t: Tensor): Tensor {
    t.requiresGrad = true;
    t.keep();
    this.params_.set(name, t);
    return t;
  }

  protected registerBuffer(name: string, t: Tensor): Tensor {
    t.keep();
    this.buffers_.set(name, t);
    return t;
  }

  protected registerModule<M extends Module>(name: string, m: M): M {
    this.children_.set(name, m);
    return m;
  }

  children(): [string, Module][] {
    return [...this.children_];
  }

  /** All modules below this one (depth first, parents before children), with dotted names. */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [n, c] of this.children_) out.push(...c.namedModules(prefix ? `${prefix}.${n}` : n));
    return out;
  }

  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, p] of this.params_) out.push([prefix ? `${prefix}.${n}` : n, p]);
    for (const [n, c] of this.children_) out.push(...c.namedParameters(prefix ? `${prefix}.${n}` : n));
    return out;
  }

  namedBuffers(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, b] of this.buffers_) out.push([prefix ? `${prefix}.${n}` : n, b]);
    for (const [n, c] of this.children_) out.push(...c.namedBuffers(prefix ? `${prefix}.${n}` : n));
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }

  numParameters(): number {
    return this.parameters().reduce((s, p) => s + p.size, 0);
  }

  /** Parameters and buffers, in PyTorch's order (per module: parameters, then buffers). */
  stateDict(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [prefix, m] of this.namedModules()) {
      for (const [n, t] of m.params_) out.set(prefix ? `${prefix}.${n}` : n, t);
      for (const [n, t] of m.buffers_) out.set(prefix ? `${prefix}.${n}` : n, t);
    }
    return out;
  }

  /** Plain values of the state dict (for saving). */
  stateDictArrays(): Map<string, { shape: Shape; data: Float32Array }> {
    const out = new Map<string, { shape: Shape; data: Float32Array }>();
    for (const [k, t] of this.stateDict()) out.set(k, { shape: t.shape, data: t.toArray() });
    return out;
  }

  /**
   * Strict load: every key must be present with the right shape and nothing may be left over;
   * one error lists every problem. `source` names the file in messages.
   */
  loadStateDict(values: ReadonlyMap<string, { shape: Shape; data: Float32Array }>, source = 'state dict'): void {
    const own = this.stateDict();
    const missing = [...own.keys()].filter((k) => !values.has(k));
    const unexpected = [...values.keys()].filter((k) => !own.has(k));
    const misShaped = [...own].filter(([k, t]) => values.has(k) && !sameShape(values.get(k)!.shape, t.shape))
      .map(([k, t]) => `${k}: got ${formatShape(values.get(k)!.shape)}, expected ${formatShape(t.shape)}`);
    if (missing.length + unexpected.length + misShaped.length > 0) {
      const parts: string[] = [];
      if (missing.length) parts.push(`missing keys: ${missing.join(', ')}`);
      if (unexpected.length) parts.push(`unexpected keys: ${unexpected.join(', ')}`);
      if (misShaped.length) parts.push(`wrong shapes: ${misShaped.join('; ')}`);
      throw new Error(`${source}: does not fit the model (${parts.join('; ')})`);
    }
    for (const [k, t] of own) t.assign(values.get(k)!.data);
  }

  /** Train or eval mode for every module below; frozen ones stay in eval mode. */
  train(on = true): this {
    for (const [, m] of this.namedModules()) m.training = on && !m.frozen;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /**
   * Multiply-accumulates of this layer alone for one image, given its output shape (convolutions and
   * linear layers count, as PyTorch forward hooks count them; containers report 0).
   */
  macs(_outShape: Shape): number {
    return 0;
  }

  /** Parameters registered on this module itself (not its children). */
  ownParameters(): number {
    return [...this.params_.values()].reduce((s, p) => s + p.size, 0);
  }

  /** Frees every parameter and buffer (native memory). */
  dispose(): void {
    for (const t of this.stateDict().values()) t.dispose();
    for (const p of this.parameters()) p.grad?.dispose();
  }
}

/**
 * Builds a kept tensor on the current backend from an initialiser, which is not run on the meta
 * (shapes-only) backend.
 */
export function hostTensor(init: () => Float32Array, shape: Shape): Tensor {
  const b = engine.backend;
  const data = b.name === 'meta' ? new Float32Array(0) : init();
  return new Tensor(b.upload(data, shape), shape, b).keep();
}
