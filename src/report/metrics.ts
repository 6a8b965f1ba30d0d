/**
 * Per-epoch training metrics: the record the trainer appends (one JSON object per line) to `metrics.jsonl`,
 * and the reader the report module uses to plot them.
 */
import { readFile } from 'node:fs/promises';

/** One epoch of training, as written by the trainer to metrics.jsonl (one JSON object per line). */
export interface EpochMetrics {
  /** 1-based epoch number. */
  epoch: number;
  /** Learning rate used during the epoch (last value if it changed within the epoch). */
  lr: number;
  train_loss: number;
  /** Training accuracy, as a fraction in [0, 1] (values above 1 are taken as percentages when plotting). */
  train_acc: number;
  /** Validation loss; null or absent when the epoch was not evaluated. */
  val_loss?: number | null;
  /** Validation accuracy; null or absent when the epoch was not evaluated. */
  val_acc?: number | null;
  /** Wall-clock seconds for the epoch. */
  seconds: number;
  /** Training throughput, images per second. */
  img_per_s: number;
  /** Data-parallel runs: number of ranks, and per step the seconds in gradient allreduce and the part not overlapped with backward. */
  world_size?: number;
  allreduce_s_per_step?: number;
  allreduce_wait_s_per_step?: number;
}

/** The numeric fields of EpochMetrics that can be plotted against the epoch. */
export type MetricName = Exclude<keyof EpochMetrics, 'epoch'>;

export const METRIC_NAMES: readonly MetricName[] = [
  'lr',
  'train_loss',
  'train_acc',
  'val_loss',
  'val_acc',
  'seconds',
  'img_per_s',
];

const REQUIRED = ['epoch', 'lr', 'train_loss', 'train_acc', 'seconds', 'img_per_s'] as const;
const OPTIONAL = ['val_loss', 'val_acc'] as const;

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'number') return String(v);
  const s = JSON.stringify(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

/**
 * Checks one record and returns a clean EpochMetrics (unknown extra fields are dropped).
 * `where` prefixes error messages, e.g. "runs/a/metrics.jsonl:3" or "rows[2]".
 */
export function validateEpochMetrics(value: unknown, where: string): EpochMetrics {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`${where}: expected a JSON object with fields ${REQUIRED.join(', ')}, got ${describe(value)}`);
  }
  const o = value as Record<string, unknown>;
  const num = (k: string): number => {
    const v = o[k];
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new Error(`${where}: field '${k}' expected a finite number, got ${describe(v)}`);
    }
    return v;
  };
  const out: EpochMetrics = {
    epoch: num('epoch'),
    lr: num('lr'),
    train_loss: num('train_loss'),
    train_acc: num('train_acc'),
    seconds: num('seconds'),
    img_per_s: num('img_per_s'),
  };
  for (const k of OPTIONAL) {
    const v = o[k];
    if (v === undefined) continue;
    if (v === null) {
      out[k] = null;
      continue;
    }
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new Error(`${where}: field '${k}' expected a finite number or null, got ${describe(v)}`);
    }
    out[k] = v;
  }
  return out;
}

/** Parses metrics.jsonl text; blank lines are skipped. `name` is used in error messages (file:line). */
export function parseMetricsJsonl(text: string, name: string): EpochMetrics[] {
  const rows: EpochMetrics[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      throw new Error(`${name}:${i + 1}: invalid JSON (${msg})`);
    }
    rows.push(validateEpochMetrics(parsed, `${name}:${i + 1}`));
  }
  return rows;
}

/** Reads a metrics.jsonl file written by the trainer. Errors name file:line and the offending field. */
export async function readMetricsJsonl(path: string): Promise<EpochMetrics[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`${path}: cannot read metrics file (${code ?? (e instanceof Error ? e.message : String(e))})`);
  }
  return parseMetricsJsonl(text, path);
}
