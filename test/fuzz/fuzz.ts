/**
 * Runs a fuzz target for N cases and counts outcomes: accepted, refused cleanly (the reader's own
 * error, one line, naming the file), escaped (anything else), and slow cases.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from './mutate.js';
import type { FuzzTarget } from './targets.js';

export interface Escape {
  case: number;
  mutation: string;
  error: string;
}

export interface FuzzOutcome {
  target: string;
  cases: number;
  seed: number;
  accepted: number;
  refused: number;
  escaped: number;
  /** Cases slower than SLOW_MS (clean or not). */
  slow: number;
  slowestMs: number;
  totalMs: number;
  /** Refusals by mutation kind. */
  byMutation: Record<string, { accepted: number; refused: number; escaped: number }>;
  /** The most frequent refusal messages, the file path and numbers replaced by placeholders. */
  topRefusals: [string, number][];
  escapes: Escape[];
}

export const SLOW_MS = 5000;

function oneLineNamingFile(e: Error, dir: string): boolean {
  return typeof e.message === 'string' && !e.message.includes('\n') && e.message.includes(dir);
}

function normalise(msg: string, dir: string): string {
  return msg.split(dir).join('<file>').replace(/\d+/g, 'N').slice(0, 160);
}

export async function runTarget(target: FuzzTarget, cases: number, seed = 1): Promise<FuzzOutcome> {
  const rng = new Rng(seed);
  const root = mkdtempSync(join(tmpdir(), `wrn-fuzz-${target.name}-`));
  const out: FuzzOutcome = { target: target.name, cases, seed, accepted: 0, refused: 0, escaped: 0, slow: 0, slowestMs: 0, totalMs: 0, byMutation: {}, topRefusals: [], escapes: [] };
  const refusals = new Map<string, number>();
  try {
    for (let i = 0; i < cases; i++) {
      const dir = join(root, String(i));
      mkdirSync(dir);
      const { path, mutation } = await target.make(rng, dir);
      const m = (out.byMutation[mutation] ??= { accepted: 0, refused: 0, escaped: 0 });
      const t0 = performance.now();
      try {
        await target.read(path);
        out.accepted++;
        m.accepted++;
      } catch (err) {
        const e = err instanceof Error ? err : new Error(String(err));
        if (target.errors.includes(e.name) && oneLineNamingFile(e, dir)) {
          out.refused++;
          m.refused++;
          const k = normalise(e.message, dir);
          refusals.set(k, (refusals.get(k) ?? 0) + 1);
        } else {
          out.escaped++;
          m.escaped++;
          if (out.escapes.length < 50) out.escapes.push({ case: i, mutation, error: `${e.name}: ${String(e.message).split('\n')[0].slice(0, 300)}` });
        }
      }
      const ms = performance.now() - t0;
      out.totalMs += ms;
      out.slowestMs = Math.max(out.slowestMs, ms);
      if (ms > SLOW_MS) out.slow++;
      rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  out.totalMs = Math.round(out.totalMs);
  out.slowestMs = Math.round(out.slowestMs);
  out.topRefusals = [...refusals].sort((a, b) => b[1] - a[1]).slice(0, 12);
  return out;
}
