import type { Activation } from '../backend/backend.js';
import { MetaBackend } from '../backend/meta.js';
import { noGrad, tidy } from '../core/engine.js';
import { Rng } from '../core/random.js';
import { Tensor } from '../core/tensor.js';
import { Linear } from '../nn/layers.js';
import { ActivationLifetimes } from '../nn/lifetimes.js';
import { Module } from '../nn/module.js';

/** What a checkpoint must record to rebuild a network: the registry name and the head/stem sizes. */
export interface NetworkConfig {
  arch: string;
  classes: number;
  inChannels: number;
  activation: Activation;
  dropout: number;
}

/**
 * The parts every family is made of (timm's layout): a stem, the stages `layer1..N` whose outputs are
 * the feature maps, an optional norm closing the features (the pre-activation nets' final BN-act),
 * then the head: global pool and the classifier `fc`.
 */
export interface NetworkParts {
  stem: readonly Module[];
  stages: readonly Module[];
  norm: Module | null;
  pool: Module;
}

/** One stage's feature map, as timm's feature_info describes it. */
export interface FeatureInfo {
  /** The stage's module name (`layer1`, ...), as in the state dict. */
  module: string;
  channels: number;
  /** Input size / feature map size. */
  reduction: number;
}

export interface ForwardHeadOptions {
  /** Stop after the pool: the features the classifier reads, [N, C]. */
  preLogits?: boolean;
}

/**
 * A whole classifier, defined once by its forward: shapes, MACs and `wrn summary` come from running it
 * on the meta backend (models/summary.ts), and freeing activations after their last use is done for
 * every entry point by ActivationLifetimes, so models are plain dataflow code.
 */
export abstract class Network extends Module {
  /** Free activations after their last use (on by default; off only to measure what it saves). */
  releaseActivations = true;
  private readonly lifetimes = new ActivationLifetimes();
  private fc_: Linear | null = null;

  constructor(readonly config: NetworkConfig) {
    super();
  }

  protected abstract parts(): NetworkParts;

  /** The classifier, registered as `fc`. */
  get fc(): Linear {
    if (!this.fc_) throw new Error(`${this.config.arch}: no classifier registered`);
    return this.fc_;
  }

  protected setClassifier(fc: Linear): Linear {
    this.fc_ = this.registerModule('fc', fc);
    return fc;
  }

  /** Logits [N, classes]. */
  forward(x: Tensor): Tensor {
    return this.scoped('forward', x, (t) => this.head(this.features(t), false));
  }

  /** The final feature map before pooling, [N, C, h, w] (after the pre-activation nets' final BN-act). */
  forwardFeatures(x: Tensor): Tensor {
    return this.scoped('features', x, (t) => this.features(t));
  }

  /** Pool and classify a forwardFeatures() output; with `preLogits`, the pooled features [N, C]. */
  forwardHead(x: Tensor, o: ForwardHeadOptions = {}): Tensor {
    return this.scoped(`head${o.preLogits ? '-pre' : ''}`, x, (t) => this.head(t, o.preLogits ?? false));
  }

  /**
   * The outputs of the stages `indices` (0-based, ascending), each the caller's to keep; stages after
   * the last one asked for are not run.
   */
  forwardStages(x: Tensor, indices: readonly number[]): Tensor[] {
    const { stem, stages } = this.parts();
    for (const i of indices) {
      if (!Number.isInteger(i) || i < 0 || i >= stages.length) {
        throw new Error(`${this.config.arch}: stage index ${i} out of range (0..${stages.length - 1})`);
      }
    }
    const wanted = new Set(indices);
    const last = Math.max(-1, ...indices);
    return this.scoped(`stages-${[...wanted].sort().join(',')}`, x, (t) => {
      let y = stem.reduce((a, m) => m.forward(a), t);
      const out: Tensor[] = [];
      for (let i = 0; i <= last; i++) {
        y = stages[i].forward(y);
        if (wanted.has(i)) out.push(y);
      }
      return out;
    });
  }

  /** Names of the stages (`layer1`, ...), in order. */
  stageNames(): string[] {
    const stages = new Set(this.parts().stages);
    return this.children().filter(([, m]) => stages.has(m)).map(([n]) => n);
  }

  /** Indices of stages given by name (`layer2`) or index (`1`); one clear error for anything else. */
  stageIndices(stages: readonly (string | number)[]): number[] {
    const names = this.stageNames();
    const out = stages.map((s) => {
      const i = typeof s === 'number' ? s : names.indexOf(s);
      if (!Number.isInteger(i) || i < 0 || i >= names.length) {
        throw new Error(`unknown stage '${s}' for ${this.config.arch}: expected one of ${names.join(', ')} (or 0..${names.length - 1})`);
      }
      return i;
    });
    return [...new Set(out)].sort((a, b) => a - b);
  }

  /** Channels and reduction of every stage's output, from the forward run on the meta backend. */
  get featureInfo(): FeatureInfo[] {
    const size = 64;
    const meta = new MetaBackend();
    const shape = [1, this.config.inChannels, size, size];
    const names = this.stageNames();
    const shapes = noGrad(() => tidy(() => this.forwardStages(new Tensor(meta.zeros(shape), shape, meta), names.map((_, i) => i)).map((t) => t.shape)));
    return names.map((module, i) => ({ module, channels: shapes[i][1], reduction: size / shapes[i][2] }));
  }

  /**
   * Replaces the classifier by a freshly initialised one for `classes` classes (the family's own
   * init, seeded by `seed`); every other parameter is kept.
   */
  resetClassifier(classes: number, seed = 0): void {
    if (!Number.isInteger(classes) || classes < 1) throw new Error(`resetClassifier: ${classes} classes, expected a positive integer`);
    const old = this.fc;
    this.setClassifier(new Linear(old.inFeatures, classes, new Rng(seed), old.zeroBias)).training = old.training;
    old.dispose();
    this.config.classes = classes;
  }

  /**
   * Freezes all but the last `trainableStages` stages (torchvision's trainable_layers): their
   * parameters get no gradient and their batch norms and dropouts stay in eval mode (running
   * statistics, not updated), so no backward runs through them. The classifier always trains;
   * `stages + 1` unfreezes the stem too. The final norm of the pre-activation nets goes with the
   * last stage.
   */
  freeze({ trainableStages }: { trainableStages: number }): void {
    const { stem, stages, norm } = this.parts();
    if (!Number.isInteger(trainableStages) || trainableStages < 0 || trainableStages > stages.length + 1) {
      throw new Error(`${this.config.arch}: trainableStages ${trainableStages}, expected 0..${stages.length + 1}`);
    }
    const frozenStages = stages.length - trainableStages;
    const groups: [Module[], boolean][] = [
      [[...stem], frozenStages >= 0],
      ...stages.map((s, i): [Module[], boolean] => [[s], i < frozenStages]),
      [norm ? [norm] : [], frozenStages >= stages.length],
      [[this.fc], false],
    ];
    for (const [mods, frozen] of groups) {
      for (const m of mods) {
        for (const [, sub] of m.namedModules()) {
          sub.frozen = frozen;
          if (frozen) sub.training = false;
        }
        for (const p of m.parameters()) p.requiresGrad = !frozen;
      }
    }
  }

  /** Parameter names that train (requiresGrad), e.g. to build an optimizer over them. */
  trainableParameters(): [string, Tensor][] {
    return this.namedParameters().filter(([, p]) => p.requiresGrad);
  }

  private features(x: Tensor): Tensor {
    const { stem, stages, norm } = this.parts();
    const y = [...stem, ...stages].reduce((a, m) => m.forward(a), x);
    return norm ? norm.forward(y) : y;
  }

  private head(x: Tensor, preLogits: boolean): Tensor {
    const pooled = this.parts().pool.forward(x);
    return preLogits ? pooled : this.fc.forward(pooled);
  }

  /** Runs an entry point with activation release; the plan depends on every module's mode. */
  private scoped<T>(entry: string, x: Tensor, fn: (x: Tensor) => T): T {
    if (!this.releaseActivations) return fn(x);
    const modes = this.namedModules().map(([, m]) => (m.training ? '1' : '0')).join('');
    return this.lifetimes.run(`${entry}|${modes}`, x, fn);
  }
}
