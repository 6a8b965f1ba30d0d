import { MetaBackend } from '../backend/meta.js';
import { collectTensors, engine, tidy } from '../core/engine.js';
import { LifetimeRecorder, LifetimeReleaser, type LifetimePlan } from '../core/lifetime.js';
import { Tensor } from '../core/tensor.js';

/** Plans kept per model; a handful of (entry, shape, mode) combinations occur in practice. */
const MAX_PLANS = 16;

/**
 * Runs a model's forwards so that each activation is freed after its last use (see core/lifetime.ts):
 * all of them without autograd (inference: WRN-28-10 at batch 128 holds a few activations, not 3.6 GB),
 * and with autograd those no backward reads. The plan of each (entry point, input shape, mode) is
 * recorded once on the meta backend. Whatever the forward returns is the caller's.
 */
export class ActivationLifetimes {
  private readonly plans = new Map<string, LifetimePlan>();

  run<T>(key: string, x: Tensor, fn: (x: Tensor) => T): T {
    // Nested entry points (forward calling forwardFeatures) run under the outer scope's plan.
    if (engine.lifetime !== null || x.backend.name === 'meta') return fn(x);
    const fullKey = `${key}|${x.shape.join('x')}|${engine.gradEnabled ? 'grad' : 'nograd'}`;
    let plan = this.plans.get(fullKey);
    if (!plan) {
      plan = recordPlan(x, fn);
      if (this.plans.size >= MAX_PLANS) this.plans.delete(this.plans.keys().next().value as string);
      this.plans.set(fullKey, plan);
    }
    const releaser = new LifetimeReleaser(plan, engine.gradEnabled);
    engine.lifetime = releaser;
    let out: T;
    try {
      out = fn(x);
    } finally {
      engine.lifetime = null;
    }
    releaser.finish();
    return out;
  }
}

/** Runs `fn` on a shapes-only copy of `x` and watches what it makes and reads. */
function recordPlan<T>(x: Tensor, fn: (x: Tensor) => T): LifetimePlan {
  const meta = new MetaBackend();
  return tidy(() => {
    const mx = new Tensor(meta.zeros(x.shape), x.shape, meta, x.requiresGrad);
    const recorder = new LifetimeRecorder();
    engine.lifetime = recorder;
    let out: T;
    try {
      out = fn(mx);
    } finally {
      engine.lifetime = null;
    }
    return recorder.plan(collectTensors(out));
  });
}
