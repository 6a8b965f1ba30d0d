/**
 * Storages and saved contexts of the native backend: integer handles into the addon's object table.
 * Each carries a native finalizer (napi_wrap) that frees its memory if the object is garbage-collected
 * without dispose(). (A FinalizationRegistry grew the RSS by ~10 MB per 1000 small training steps: its
 * cells are only cleaned up between event-loop turns.)
 */
import type { Precision, Saved, Storage } from '../backend.js';
import type { NativeAddon } from './addon.js';

/** A tensor's memory in the addon: its layout and data type live with the data, on the native side. */
export class NativeStorage implements Storage {
  constructor(readonly size: number, private h_: number, private readonly addon: NativeAddon) {
    addon.track(this, h_);
  }

  get handle(): number {
    if (this.h_ < 0) throw new Error('native backend: storage used after dispose()');
    return this.h_;
  }

  get disposed(): boolean {
    return this.h_ < 0;
  }

  /** The data type the storage holds (fp32 or bf16). */
  get dtype(): Precision {
    return this.addon.dtype(this.handle);
  }

  dispose(): void {
    if (this.h_ < 0) throw new Error('native backend: storage disposed twice');
    this.addon.free(this.h_, this);
    this.h_ = -1;
  }
}

export class NativeSaved implements Saved {
  constructor(readonly kind: string, private h_: number, private readonly addon: NativeAddon) {
    addon.track(this, h_);
  }

  get handle(): number {
    if (this.h_ < 0) throw new Error(`native backend: saved ${this.kind} context used after dispose()`);
    return this.h_;
  }

  dispose(): void {
    if (this.h_ < 0) throw new Error(`native backend: saved ${this.kind} context disposed twice`);
    this.addon.free(this.h_, this);
    this.h_ = -1;
  }
}

/** The handle of a storage this backend made. */
export function handleOf(s: Storage, what = 'tensor'): number {
  if (!(s instanceof NativeStorage)) throw new Error(`native backend: ${what} storage belongs to another backend`);
  return s.handle;
}

/** The handle of a saved context of the given kind. */
export function savedHandle(s: Saved, kind: string): number {
  if (!(s instanceof NativeSaved)) throw new Error('native backend: saved context belongs to another backend');
  if (s.kind !== kind) throw new Error(`native backend: expected a saved ${kind} context, got ${s.kind}`);
  return s.handle;
}
