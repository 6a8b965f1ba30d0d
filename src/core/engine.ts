import type { Backend } from '../backend/backend.js';
import type { LifetimeObserver } from './lifetime.js';
import type { Tensor } from './tensor.js';

/**
 * Process-wide state: the current backend, whether autograd records, and the stack of `tidy()`
 * scopes that own the tensors made inside them (tfjs-style deterministic memory management).
 */
class Engine {
  private backend_: Backend | null = null;
  gradEnabled = true;
  private scopes: Set<Tensor>[] = [];
  /** The activation-lifetime scope of the forward now running, if any (see lifetime.ts). */
  lifetime: LifetimeObserver | null = null;

  get backend(): Backend {
    if (!this.backend_) throw new Error('No backend selected: call setBackend() (or use the `wide-resnet` entry point, which picks one)');
    return this.backend_;
  }

  hasBackend(): boolean {
    return this.backend_ !== null;
  }

  setBackend(b: Backend): void {
    this.backend_ = b;
  }

  track(t: Tensor): void {
    this.lifetime?.created(t);
    const top = this.scopes[this.scopes.length - 1];
    if (top) top.add(t);
  }

  keep(t: Tensor): void {
    for (const s of this.scopes) s.delete(t);
  }

  tidy<T>(fn: () => T): T {
    const scope = new Set<Tensor>();
    this.scopes.push(scope);
    let result: T;
    try {
      result = fn();
    } catch (e) {
      this.scopes.pop();
      for (const t of scope) t.dispose();
      throw e;
    }
    this.scopes.pop();
    const survivors = collectTensors(result);
    const parent = this.scopes[this.scopes.length - 1];
    for (const t of scope) {
      if (survivors.has(t)) parent?.add(t);
      else t.dispose();
    }
    return result;
  }
}

/** The tensors inside a value (a tensor, or arrays, maps and plain objects of them). */
export function collectTensors(value: unknown, out = new Set<Tensor>(), depth = 0): Set<Tensor> {
  if (value === null || typeof value !== 'object' || depth > 4) return out;
  if (isTensor(value)) {
    out.add(value);
  } else if (Array.isArray(value)) {
    for (const v of value) collectTensors(v, out, depth + 1);
  } else if (value instanceof Map) {
    for (const v of value.values()) collectTensors(v, out, depth + 1);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collectTensors(v, out, depth + 1);
  }
  return out;
}

function isTensor(v: object): v is Tensor {
  return 'shape' in v && 'backend' in v && 'gradFn' in v && typeof (v as { dispose?: unknown }).dispose === 'function';
}

export const engine = new Engine();

/** Runs `fn`, then disposes every tensor it created except those it returns (or `keep()`s). */
export function tidy<T>(fn: () => T): T {
  return engine.tidy(fn);
}

/** Runs `fn` without recording autograd history (inference, evaluation, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  const prev = engine.gradEnabled;
  engine.gradEnabled = false;
  try {
    return fn();
  } finally {
    engine.gradEnabled = prev;
  }
}

export function setBackend(b: Backend): void {
  engine.setBackend(b);
}

/** Runs `fn` with `b` as the current backend, then restores the previous one. */
export function withBackend<T>(b: Backend, fn: () => T): T {
  const prev = engine.hasBackend() ? engine.backend : null;
  engine.setBackend(b);
  try {
    return fn();
  } finally {
    if (prev) engine.setBackend(prev);
  }
}

export function getBackend(): Backend {
  return engine.backend;
}
