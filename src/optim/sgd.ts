import { Tensor } from '../core/tensor.js';

export interface SgdConfig {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
  /** Learning-rate multipliers by parameter name (e.g. a new head trained faster); default 1. */
  lrMultipliers?: ReadonlyMap<string, number>;
}

/**
 * torch.optim.SGD, exactly: weight decay is added to the gradient, the momentum buffer starts as a
 * copy of the first gradient, Nesterov uses g + momentum * buf. The momentum buffers are optimizer
 * state that checkpoints save (`state()` / `loadState()`), named after the parameters.
 */
export class SGD {
  lr: number;
  readonly momentum: number;
  readonly dampening: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;
  private readonly buffers = new Map<string, Tensor>();
  private readonly lrMultipliers: ReadonlyMap<string, number>;
  private steps = 0;

  constructor(private readonly params: readonly [string, Tensor][], cfg: SgdConfig) {
    this.lr = cfg.lr;
    this.momentum = cfg.momentum ?? 0;
    this.dampening = cfg.dampening ?? 0;
    this.weightDecay = cfg.weightDecay ?? 0;
    this.nesterov = cfg.nesterov ?? false;
    this.lrMultipliers = cfg.lrMultipliers ?? new Map();
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      throw new Error('SGD: Nesterov momentum requires a momentum > 0 and zero dampening');
    }
  }

  get stepCount(): number {
    return this.steps;
  }

  /** Applies one update to every parameter that has a gradient. */
  step(): void {
    for (const [name, p] of this.params) {
      if (!p.grad) continue;
      let buf = this.buffers.get(name) ?? null;
      const firstStep = this.momentum !== 0 && buf === null;
      if (firstStep) {
        buf = Tensor.zeros(p.shape).keep();
        this.buffers.set(name, buf);
      }
      p.backend.sgdStep(p.storage, p.grad.storage, buf?.storage ?? null, p.shape, {
        lr: this.lr * (this.lrMultipliers.get(name) ?? 1), momentum: this.momentum, dampening: this.dampening, weightDecay: this.weightDecay,
        nesterov: this.nesterov, firstStep,
      });
    }
    this.steps++;
  }

  /** Frees the gradients (PyTorch's zero_grad(set_to_none=True)). */
  zeroGrad(): void {
    for (const [, p] of this.params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Momentum buffers by parameter name, as host arrays, plus the step count. */
  state(): { steps: number; momentum: Map<string, Float32Array> } {
    const momentum = new Map<string, Float32Array>();
    for (const [k, b] of this.buffers) momentum.set(k, b.toArray());
    return { steps: this.steps, momentum };
  }

  loadState(s: { steps: number; momentum: ReadonlyMap<string, Float32Array> }, source = 'optimizer state'): void {
    const names = new Map(this.params);
    for (const [k, data] of s.momentum) {
      const p = names.get(k);
      if (!p) throw new Error(`${source}: momentum buffer for unknown parameter '${k}'`);
      if (data.length !== p.size) throw new Error(`${source}: momentum buffer '${k}' has ${data.length} values, parameter has ${p.size}`);
      this.buffers.get(k)?.dispose();
      this.buffers.set(k, Tensor.fromArray(data, p.shape).keep());
    }
    this.steps = s.steps;
  }

  dispose(): void {
    for (const b of this.buffers.values()) b.dispose();
    this.buffers.clear();
  }
}
