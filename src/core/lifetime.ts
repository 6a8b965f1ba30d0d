import type { Shape } from '../backend/backend.js';
import { sameShape } from './shape.js';
import type { Tensor } from './tensor.js';

/**
 * Activation lifetimes: which tensor a forward may free, and when.
 *
 * JavaScript has no reference counts to tell when an intermediate is dead, so a forward is first run
 * on shapes-only tensors (the meta backend) while a `LifetimeRecorder` watches every tensor it makes
 * and every read of one (`Tensor.storage`). That gives, for the n-th tensor made, the last moment it is
 * read; a `LifetimeReleaser` then frees it at that moment in the real run. Models stay plain dataflow
 * code; what the forward returns (logits, the feature maps a caller asked for) survives.
 *
 * Freeing means: without autograd, dispose; with autograd, free the values only if no recorded
 * backward reads them (Tensor.readers === 0, e.g. a residual branch once added), keeping the node.
 */
export interface LifetimePlan {
  /** Shape of the n-th tensor the forward makes (checked, so a forward that changed is noticed). */
  readonly shapes: readonly Shape[];
  /** freeAt[k]: tensors (by creation index) that are dead once tensor k is being made. */
  readonly freeAt: readonly (readonly number[])[];
  /** Creation indices of the tensors the forward returns. */
  readonly survivors: ReadonlySet<number>;
}

/** What the engine tells an active lifetime scope (see Engine.lifetime). */
export interface LifetimeObserver {
  created(t: Tensor): void;
  read(t: Tensor): void;
}

/** Watches a forward to build its plan. */
export class LifetimeRecorder implements LifetimeObserver {
  private readonly made: Tensor[] = [];
  private readonly index = new Map<Tensor, number>();
  private readonly lastRead: number[] = [];

  created(t: Tensor): void {
    this.index.set(t, this.made.length);
    this.made.push(t);
    this.lastRead.push(-1);
  }

  read(t: Tensor): void {
    const i = this.index.get(t);
    // A read stamped with the number of tensors made so far: it happens before the next one is made.
    if (i !== undefined) this.lastRead[i] = this.made.length;
  }

  /** The plan, given the tensors the forward returned. */
  plan(returned: Iterable<Tensor>): LifetimePlan {
    const n = this.made.length;
    const freeAt: number[][] = Array.from({ length: n }, () => []);
    const survivors = new Set<number>();
    for (const t of returned) {
      const i = this.index.get(t);
      if (i !== undefined) survivors.add(i);
    }
    for (let j = 0; j < n; j++) {
      if (survivors.has(j)) continue;
      // Read last with stamp s: the op reading it made tensor s and finished (recording its backward,
      // which may count the reader) before tensor s + 1 is made. Never read: dead once the next is made.
      const at = Math.max(this.lastRead[j], j) + 1;
      if (at < n) freeAt[at].push(j);
    }
    return { shapes: this.made.map((t) => t.shape), freeAt, survivors };
  }
}

/** Frees a real forward's tensors as its plan says; the rest (not returned) when the scope ends. */
export class LifetimeReleaser implements LifetimeObserver {
  private readonly made: Tensor[] = [];
  private readonly freed = new Set<number>();
  /** Set when the forward makes a tensor the plan did not foresee: freeing stops (values stay right). */
  diverged = false;

  constructor(private readonly plan: LifetimePlan, private readonly gradEnabled: boolean) {}

  created(t: Tensor): void {
    if (this.diverged) return;
    const k = this.made.length;
    if (k >= this.plan.shapes.length || !sameShape(this.plan.shapes[k], t.shape)) {
      this.diverged = true;
      return;
    }
    this.made.push(t);
    for (const j of this.plan.freeAt[k]) this.free(j);
  }

  read(): void {}

  /** After the forward: everything it made that it does not return. */
  finish(): void {
    if (this.diverged || this.made.length !== this.plan.shapes.length) return;
    for (let j = 0; j < this.made.length; j++) if (!this.plan.survivors.has(j)) this.free(j);
  }

  private free(j: number): void {
    if (this.freed.has(j)) return;
    this.freed.add(j);
    const t = this.made[j];
    if (!this.gradEnabled) t.dispose();
    else if (t.readers === 0) t.releaseStorage();
  }
}
