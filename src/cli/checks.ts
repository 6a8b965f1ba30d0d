/**
 * Checks that relate several flag values, run before any data is loaded or memory allocated:
 * the memory a batch would need, whether an --out directory already holds a run, and which flags
 * a --resume may not change. Each failure is one UserError line.
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { totalmem } from 'node:os';
import path from 'node:path';
import { MetaBackend } from '../backend/meta.js';
import { withBackend } from '../core/engine.js';
import { createModel } from '../models/registry.js';
import { summarize } from '../models/summary.js';
import { PAPER_DEFAULTS, type TrainConfig } from '../train/trainer.js';
import { bytes } from './format.js';
import { checkValue, type Flags } from './flags.js';
import { UserError } from './userError.js';

export interface MemoryAsk {
  arch: string;
  mode: 'train' | 'infer';
  batch: number;
  inChannels: number;
  size: number;
  classes: number;
  precision: 'fp32' | 'bf16';
  /** How the flags that set the batch and image size are named in the message (e.g. `--batch 4096`). */
  flags: string;
}

/**
 * A lower bound of the memory one step needs: training keeps every layer output for backward and holds
 * weights, gradients and momentum; inference holds the input and two layer outputs at a time.
 */
export function stepBytes(a: Omit<MemoryAsk, 'flags'>): { total: number; perImage: number; fixed: number } {
  const model = withBackend(new MetaBackend(), () => createModel(a.arch, { classes: a.classes, inChannels: a.inChannels }));
  const s = summarize(model, a.size);
  const elem = a.precision === 'bf16' ? 2 : 4;
  const input = a.inChannels * a.size * a.size * 4;
  const largest = Math.max(...s.layers.map((l) => l.outShape.slice(1).reduce((x, y) => x * y, 1)));
  const perImage = a.mode === 'train' ? (s.activationBytes / 4) * elem : input + 2 * largest * elem;
  const fixed = a.mode === 'train' ? 3 * s.paramBytes : s.paramBytes;
  return { total: a.batch * perImage + fixed, perImage, fixed };
}

/** The machine's memory, or the container's limit (cgroup) when lower. */
export function memoryLimit(): number {
  const constrained = process.constrainedMemory?.() ?? 0;
  return constrained > 0 ? Math.min(constrained, totalmem()) : totalmem();
}

/** Refuses a batch whose step would need more memory than the machine has, with the estimate. */
export function checkMemory(a: MemoryAsk, available = memoryLimit()): void {
  const { total, perImage, fixed } = stepBytes(a);
  if (total <= available) return;
  throw new UserError(`${a.flags}: one ${a.arch} ${a.mode === 'train' ? 'training step' : 'inference batch'} on ` +
    `${a.inChannels}x${a.size}x${a.size} images needs at least ${bytes(total)} (${bytes(perImage)} per image + ${bytes(fixed)} ` +
    `of weights), more than this machine's ${bytes(available)} of memory; use a smaller batch`);
}

const KNOWN_DATA: Record<string, { channels: number; size: number }> = {
  'fashion-mnist': { channels: 1, size: 28 }, mnist: { channels: 1, size: 28 },
  cifar10: { channels: 3, size: 32 }, cifar100: { channels: 3, size: 32 },
};

/**
 * Input shape a dataset will have, without reading it: the named ones are known, image folders are
 * resized to --image-size (default 32, RGB); for other files the smallest plausible shape, so the
 * memory check stays a lower bound.
 */
export function expectedInput(data: string, imageSize: number | undefined, channels: number | undefined): { inChannels: number; size: number } {
  const known = KNOWN_DATA[data.toLowerCase()];
  if (known) return { inChannels: known.channels, size: known.size };
  const folder = existsSync(data) && statSync(data).isDirectory();
  return { inChannels: channels ?? (folder ? 3 : 1), size: imageSize ?? (folder ? 32 : 28) };
}

/** Files a training run writes into its directory (what --overwrite replaces). */
const RUN_FILES = [
  'config.json', 'checkpoint.safetensors', 'metrics.jsonl', 'best.safetensors', 'last.safetensors', 'test.json', 'curves.svg', 'curves.png',
];
const EVAL_FILES = /^(confusion|eval)-(test|val)\.(svg|png|json)$/;

/** Whether DIR holds a training run (a checkpoint, a recipe or metrics). */
export function holdsRun(dir: string): string | null {
  return ['checkpoint.safetensors', 'config.json', 'metrics.jsonl'].find((f) => existsSync(path.join(dir, f))) ?? null;
}

/**
 * Refuses to train into a directory that already holds a run unless `overwrite`; with it, removes that
 * run's files (and only those) so nothing of the old run mixes with the new one.
 */
export function claimRunDir(dir: string, overwrite: boolean): void {
  if (!existsSync(dir)) return;
  if (!statSync(dir).isDirectory()) throw new UserError(`--out ${dir}: exists and is not a directory`);
  const found = holdsRun(dir);
  if (!found) return;
  if (!overwrite) {
    throw new UserError(`--out ${dir}: already holds a run (${found}); continue it with --resume ${dir}, ` +
      'replace it with --overwrite, or choose another --out');
  }
  for (const f of readdirSync(dir)) {
    if (RUN_FILES.includes(f) || EVAL_FILES.test(f)) rmSync(path.join(dir, f), { force: true });
  }
}

/** Flags that say how a run executes, not what it computes: the only ones --resume accepts. */
export const RESUME_MAY_CHANGE = ['--resume', '--backend', '--workers', '--debug', '--bucket-mb', '--comm-timeout'];

/** Refuses --resume with flags that would change the saved recipe, listing them. */
export function checkResumeFlags(dir: string, given: string[]): void {
  const changing = given.filter((f) => !RESUME_MAY_CHANGE.includes(f));
  if (changing.length) {
    throw new UserError(`--resume ${dir}: ${changing.join(', ')} would change the recipe saved in ${path.join(dir, 'config.json')}; ` +
      'only --backend and --workers may change on resume (start a new run with --out to change the recipe)');
  }
}

/**
 * Reads DIR/config.json of a run to resume with `overrides` (--backend, --workers) applied, checking each
 * value it holds against the flag that sets it.
 */
export function readSavedConfig(dir: string, flags: Flags, overrides: Partial<TrainConfig> = {}): TrainConfig {
  const file = path.join(dir, 'config.json');
  if (!existsSync(file)) throw new UserError(`--resume ${dir}: no config.json there (not a run directory)`);
  let cfg: unknown;
  try {
    cfg = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UserError(`--resume ${dir}: config.json is not valid JSON (${(e as Error).message})`);
  }
  if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg)) throw new UserError(`--resume ${dir}: config.json is not a JSON object`);
  const c = { ...(cfg as Record<string, unknown>), ...overrides };
  const augment = (typeof c.augment === 'object' && c.augment !== null ? c.augment : {}) as Record<string, unknown>;
  const flat: Record<string, unknown> = { ...c, crop: augment.crop, pad: augment.padMode, flip: augment.flip, cutout: augment.cutout };
  for (const [key, f] of Object.entries(flags)) {
    const v = flat[key];
    // A saved default ('' for no --init, 0 for the image-folder keys) is not a flag value; nothing to check.
    if (v === undefined || v === (PAPER_DEFAULTS as Record<string, unknown>)[key]) continue;
    checkValue(f, v, `--resume ${dir}: config.json key '${key}'`);
  }
  for (const key of ['arch', 'data', 'epochs'] as const) {
    if (flat[key] === undefined) throw new UserError(`--resume ${dir}: config.json has no '${key}'`);
  }
  return c as unknown as TrainConfig;
}
