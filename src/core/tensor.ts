import type { Backend, Shape, Storage, Saved } from '../backend/backend.js';
import { engine } from './engine.js';
import { formatShape, sizeOf } from './shape.js';

/** A node of the autograd graph: how to turn d(out) into d(inputs). */
export interface GradFn {
  readonly name: string;
  readonly inputs: readonly Tensor[];
  /** Returns one gradient per input (null where the input needs none). Owned by the caller. */
  backward(dy: Tensor): (Tensor | null)[];
  /** Releases whatever the forward saved (backend storages / contexts). */
  release(): void;
  /**
   * The tensors whose values `backward` reads (inputs and/or the output). Undefined means all inputs
   * and the output: only ops that declare it let release() free an activation during training.
   */
  readonly reads?: readonly Tensor[];
}

/**
 * A float32 tensor on one backend. Its storage is opaque (the native backend keeps oneDNN layouts);
 * read it with `toArray()`. Tensors made inside `tidy()` are disposed when the scope ends unless
 * returned or `keep()`-ed.
 */
export class Tensor {
  readonly shape: Shape;
  readonly backend: Backend;
  private storage_: Storage | null;
  requiresGrad: boolean;
  grad: Tensor | null = null;
  gradFn: GradFn | null = null;
  /** How many recorded backward functions read this tensor's values (see GradFn.reads). */
  readers = 0;

  constructor(storage: Storage, shape: Shape, backend: Backend, requiresGrad = false) {
    if (storage.size !== sizeOf(shape)) {
      throw new Error(`Tensor: storage holds ${storage.size} elements, shape ${formatShape(shape)} needs ${sizeOf(shape)}`);
    }
    this.storage_ = storage;
    this.shape = shape;
    this.backend = backend;
    this.requiresGrad = requiresGrad;
    engine.track(this);
  }

  static fromArray(data: Float32Array | readonly number[], shape: Shape, requiresGrad = false): Tensor {
    const arr = data instanceof Float32Array ? data : Float32Array.from(data);
    if (arr.length !== sizeOf(shape)) {
      throw new Error(`Tensor.fromArray: ${arr.length} values for shape ${formatShape(shape)} (${sizeOf(shape)} expected)`);
    }
    const b = engine.backend;
    return new Tensor(b.upload(arr, shape), shape, b, requiresGrad);
  }

  static zeros(shape: Shape, requiresGrad = false): Tensor {
    const b = engine.backend;
    return new Tensor(b.zeros(shape), shape, b, requiresGrad);
  }

  get storage(): Storage {
    if (this.storage_ === null) throw new Error(`Tensor ${formatShape(this.shape)} used after dispose()`);
    engine.lifetime?.read(this);
    return this.storage_;
  }

  /**
   * Frees the values but keeps the autograd node, so gradients still flow through it: for
   * activations no backward reads (readers === 0), e.g. a residual branch's output once it has been added.
   */
  releaseStorage(): void {
    if (this.readers > 0) throw new Error(`Tensor ${formatShape(this.shape)}: releaseStorage() while ${this.readers} backward function(s) read it`);
    if (this.storage_ === null) return;
    this.backend.dispose(this.storage_);
    this.storage_ = null;
  }

  get size(): number {
    return sizeOf(this.shape);
  }

  get isDisposed(): boolean {
    return this.storage_ === null;
  }

  /** Logical values, row-major, as a fresh Float32Array. */
  toArray(): Float32Array {
    return Float32Array.from(this.backend.read(this.storage, this.shape));
  }

  item(): number {
    if (this.size !== 1) throw new Error(`item(): tensor has shape ${formatShape(this.shape)}, expected one element`);
    return this.backend.read(this.storage, this.shape)[0];
  }

  /** Replaces the values in place (same shape), e.g. when loading weights. */
  assign(data: Float32Array): void {
    if (data.length !== this.size) {
      throw new Error(`assign: ${data.length} values for shape ${formatShape(this.shape)}`);
    }
    const fresh = this.backend.upload(data, this.shape);
    this.backend.dispose(this.storage);
    this.storage_ = fresh;
  }

  /** Frees the storage now (native memory is released deterministically). */
  dispose(): void {
    if (this.storage_ !== null) this.backend.dispose(this.storage_);
    this.storage_ = null;
    if (this.gradFn) {
      this.gradFn.release();
      this.gradFn = null;
    }
  }

  /** Marks this tensor to survive the enclosing `tidy()` scopes. */
  keep(): this {
    engine.keep(this);
    return this;
  }

  toString(): string {
    return `Tensor${formatShape(this.shape)}`;
  }
}

/** Wraps a kernel's output storage as a tensor of the current backend. */
export function wrap(storage: Storage, shape: Shape, backend: Backend = engine.backend): Tensor {
  return new Tensor(storage, shape, backend);
}

/** Frees saved kernel contexts exactly once. */
export function releaseAll(backend: Backend, items: (Storage | Saved | null | undefined)[]): void {
  for (const s of items) if (s) backend.dispose(s);
}
