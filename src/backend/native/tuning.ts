/**
 * Which backward-weights variant a convolution runs (native/src/conv2d_weights.cc): 0, oneDNN's
 * primitive on all threads; 1, a primitive planned for one thread; 2, one single-threaded primitive
 * per thread on its slice of the batch, partial gradients summed in thread order. The three round
 * differently, so the choice must not depend on timings taken during the run (it once did, and two
 * runs with one seed gave different weights): it comes from a table measured offline on a machine
 * (`node dist/src/bench/tuneConvWeights.js`, written to native/tuning/conv2d-weights.json and
 * committed), keyed by CPU ISA, thread count, precision and problem; a problem the table lacks runs
 * variant 0. The same machine, threads and command therefore give the same bits.
 * $WRN_BWDW_VARIANT=0|1|2 runs one variant everywhere instead (experiments, tests).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Conv2dBackwardOptions, Shape } from '../backend.js';
import { packageRoot } from './addon.js';

export type WeightsVariant = 0 | 1 | 2;
export const WEIGHTS_VARIANTS: readonly WeightsVariant[] = [0, 1, 2];

/** The table file: per machine ("<isa>/<threads>t"), per problem key, the variant to run. */
export interface WeightsTableFile {
  about: string;
  machines: Record<string, Record<string, WeightsVariant>>;
}

export function defaultTablePath(): string {
  return path.join(packageRoot() ?? '.', 'native', 'tuning', 'conv2d-weights.json');
}

export function machineKey(isa: string, threads: number): string {
  return `${isa}/${threads}t`;
}

/** "fp32 x128,160,32,32 w160,160,3,3 s1 p1": a backward-weights problem. */
export function problemKey(xShape: Shape, wShape: Shape, opts: Conv2dBackwardOptions): string {
  return `${opts.precision} x${xShape.join(',')} w${wShape.join(',')} s${opts.stride} p${opts.padding}`;
}

/** Reads and checks a table file; a malformed one is an error naming the file and the entry. */
export function readWeightsTable(file: string): WeightsTableFile {
  const fail = (what: string): never => {
    throw new Error(`${file}: ${what} (expected {"about": string, "machines": {"<isa>/<n>t": {"<problem>": 0|1|2}}})`);
  };
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    return fail(`not readable JSON: ${(e as Error).message.split('\n')[0]}`);
  }
  const t = data as Partial<WeightsTableFile>;
  if (typeof t !== 'object' || t === null || typeof t.machines !== 'object' || t.machines === null) return fail('no "machines" object');
  for (const [m, entries] of Object.entries(t.machines)) {
    if (typeof entries !== 'object' || entries === null) fail(`machine '${m}' is not an object`);
    for (const [k, v] of Object.entries(entries)) {
      if (!WEIGHTS_VARIANTS.includes(v)) fail(`machine '${m}', problem '${k}': variant ${JSON.stringify(v)}`);
    }
  }
  return { about: typeof t.about === 'string' ? t.about : '', machines: t.machines };
}

/** The variant $WRN_BWDW_VARIANT forces, or null (use the table). */
export function forcedVariant(value = process.env.WRN_BWDW_VARIANT): WeightsVariant | null {
  if (value === undefined || value === '') return null;
  const v = Number(value);
  if (!WEIGHTS_VARIANTS.includes(v as WeightsVariant)) throw new Error(`WRN_BWDW_VARIANT: expected 0, 1 or 2, got '${value}'`);
  return v as WeightsVariant;
}

/** The variant chooser for one machine: a pure lookup, 0 for problems the table lacks. */
export function weightsVariantChooser(isa: string, threads: number, file = defaultTablePath(), forced = forcedVariant()): (xShape: Shape, wShape: Shape, opts: Conv2dBackwardOptions) => WeightsVariant {
  if (forced !== null) return () => forced;
  if (threads <= 1 || !existsSync(file)) return () => 0;
  const entries = readWeightsTable(file).machines[machineKey(isa, threads)] ?? {};
  return (xShape, wShape, opts) => entries[problemKey(xShape, wShape, opts)] ?? 0;
}
