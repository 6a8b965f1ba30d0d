/**
 * Calibration: runs the fp32 network in inference mode on calibration batches and records, at every
 * activation a u8 convolution will read, the statistics `calibration.ts` turns into scales. minmax needs
 * one pass (the maxima); percentile and entropy a second one (histograms over [0, max]).
 */
import { noGrad, tidy } from '../core/engine.js';
import { Tensor } from '../core/tensor.js';
import { add } from '../ops/index.js';
import type { Batch } from '../inference/predict.js';
import { ActivationStats, threshold, LEVELS, type CalibrationMethod } from './calibration.js';
import { pointName, type QuantGraph } from './graph.js';

type Observe = (name: string, t: Tensor) => void;

/** The fp32 inference forward of the graph, calling `observe` on every quantization point. */
function forwardObserved(g: QuantGraph, x: Tensor, observe: Observe): void {
  let h = g.stem.forward(x);
  for (const b of g.blocks) {
    const o = b.bns[0].forward(h);
    observe(pointName(b.prefix, 0), o);
    const sc = b.shortcut ? b.shortcut.forward(o) : h;
    let y = b.convs[0].forward(o);
    for (let i = 1; i < b.convs.length; i++) {
      y = b.bns[i].forward(y);
      observe(pointName(b.prefix, i), y);
      y = b.convs[i].forward(y);
    }
    h = add(y, sc);
  }
}

export interface CalibrationResult {
  /** Quantization step of each activation point (u8, zero point 0). */
  scales: Record<string, number>;
  /** The clipping threshold chosen at each point, and the largest value seen there. */
  thresholds: Record<string, number>;
  maxima: Record<string, number>;
  images: number;
}

/** Collects the statistics of every point over batches; `result` turns them into scales. */
class Calibrator {
  private readonly stats = new Map<string, ActivationStats>();
  images = 0;

  constructor(private readonly g: QuantGraph) {}

  private statsOf(name: string): ActivationStats {
    let s = this.stats.get(name);
    if (!s) this.stats.set(name, (s = new ActivationStats()));
    return s;
  }

  /** Pass 1 records maxima, pass 2 histograms over [0, max]. */
  observe(b: Batch, pass: 1 | 2): void {
    noGrad(() => tidy(() => forwardObserved(this.g, Tensor.fromArray(b.x, b.shape), (name, t) => {
      const s = this.statsOf(name);
      if (pass === 1) s.observeMax(t.toArray());
      else s.observeHistogram(t.toArray());
    })));
    if (pass === 1) this.images += b.shape[0];
  }

  result(method: CalibrationMethod, percentile: number): CalibrationResult {
    if (this.images === 0) throw new Error('calibration: the calibration set is empty');
    const out: CalibrationResult = { scales: {}, thresholds: {}, maxima: {}, images: this.images };
    for (const [name, s] of this.stats) {
      const t = threshold(s, method, percentile);
      out.thresholds[name] = t;
      out.maxima[name] = s.max;
      out.scales[name] = t / LEVELS;
    }
    return out;
  }
}

/**
 * Calibrates on `batches` (a function, because percentile and entropy read them twice). The model must
 * be in eval mode; batches must be normalised as the model expects.
 */
export async function calibrate(
  g: QuantGraph, batches: () => AsyncIterable<Batch> | Iterable<Batch>, method: CalibrationMethod, percentile = 99.99,
): Promise<CalibrationResult> {
  const c = new Calibrator(g);
  for await (const b of batches()) c.observe(b, 1);
  if (method !== 'minmax' && c.images > 0) for await (const b of batches()) c.observe(b, 2);
  return c.result(method, percentile);
}

/** `calibrate` over batches already in memory. */
export function calibrateSync(g: QuantGraph, batches: () => Iterable<Batch>, method: CalibrationMethod, percentile = 99.99): CalibrationResult {
  const c = new Calibrator(g);
  for (const b of batches()) c.observe(b, 1);
  if (method !== 'minmax' && c.images > 0) for (const b of batches()) c.observe(b, 2);
  return c.result(method, percentile);
}
