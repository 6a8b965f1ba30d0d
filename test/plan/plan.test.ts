import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { register } from '../../src/cli/commands/plan.js';
import { parseAmount } from '../../src/cli/flags.js';
import { countArch } from '../../src/plan/candidates.js';
import { PAPER_RESULTS, primaryPaperResult } from '../../src/plan/paperResults.js';
import { runPlan } from '../../src/plan/plan.js';
import type { MeasureOptions, Throughput } from '../../src/plan/measure.js';

/** Runs `wrn plan ...` in-process (the command as main.ts registers it) and returns what it printed. */
async function wrnPlan(args: string[]): Promise<string> {
  const program = new Command();
  program.exitOverride();
  register(program);
  const out: string[] = [];
  const log = console.log;
  const err = console.error;
  console.log = (...a: unknown[]) => void out.push(a.join(' '));
  console.error = () => {};
  try {
    await program.parseAsync(['plan', ...args], { from: 'user' });
  } finally {
    console.log = log;
    console.error = err;
  }
  return out.join('\n');
}

interface JsonCandidate {
  arch: string;
  params: number;
  macs: number;
  activation_bytes_per_image: number;
  paper: { cifar10: number | null; table: string } | null;
  pareto: boolean;
  recommended: boolean;
}

describe('wrn plan', () => {
  test('--params 3000000 --json lists wrn-16-4 and wrn-40-2 with exact counts, a recommendation and a plot', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'wrn-plan-'));
    try {
      const text = await wrnPlan(['--params', '3000000', '--json', '--out', dir]);
      const j = JSON.parse(text) as {
        candidates: JsonCandidate[]; pareto: { paper_error: string[]; depth_width: string[] };
        recommendation: { arch: string; rule: string } | null; plot: { svg: string; png: string } | null;
      };
      const by = new Map(j.candidates.map((c) => [c.arch, c]));
      assert.equal(by.get('wrn-16-4')?.params, 2_748_890);
      assert.equal(by.get('wrn-40-2')?.params, 2_243_546);
      assert.equal(by.get('wrn-16-4')?.macs, 392_612_352);
      assert.ok(j.candidates.every((c) => c.params <= 3_000_000));
      assert.ok(!by.has('wrn-22-4') && !by.has('wrn-16-5'), 'over-budget nets are left out');
      assert.ok(by.has('preact-resnet-110') && by.has('preact-resnet-164') && !by.has('preact-resnet-1001'));
      assert.equal(j.recommendation?.arch, 'wrn-16-4');
      assert.equal(by.get('wrn-16-4')?.recommended, true);
      assert.equal(by.get('wrn-40-2')?.paper?.cifar10, 5.33);
      assert.equal(by.get('wrn-40-2')?.paper?.table, 'T4');
      assert.ok(j.pareto.paper_error.includes('wrn-16-4'));
      assert.ok(!j.pareto.paper_error.includes('preact-resnet-110'), 'pre-act-110 (1.7M, 6.37%) is dominated by pre-act-164 (1.7M, 5.46%)');
      assert.ok(j.pareto.depth_width.includes('wrn-10-6'));
      assert.ok(j.plot && existsSync(j.plot.svg) && existsSync(j.plot.png), 'plot written into --out');
      assert.equal(path.dirname(j.plot!.svg), dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the text table marks the recommendation and explains the rule', async () => {
    const text = await wrnPlan(['--params', '3M', '--no-plot']);
    assert.match(text, /=>\s+wrn-16-4\s+16\s+4\s+b33\s+2,748,890/);
    assert.match(text, /recommendation: wrn-16-4/);
    assert.match(text, /rule: the widest WRN-d-k/);
  });

  test('MAC budgets, other block types and CIFAR-100 errors', () => {
    const r = runPlan({ budget: { kind: 'macs', value: 400e6 }, blocks: ['b33', 'b313'], classes: 100 });
    assert.ok(r.candidates.length > 0 && r.candidates.every((c) => c.macs <= 400e6));
    assert.ok(r.candidates.some((c) => c.block === 'b313'));
    assert.equal(r.pareto.dataset, 'cifar100');
    const w = r.candidates.find((c) => c.arch === 'wrn-16-4');
    assert.equal(w?.macs, countArch('wrn-16-4', { classes: 100 }).macs);
    assert.equal(w?.paper?.cifar100, 24.03);
  });

  test('an img/s budget bisects over MACs, measures at most --max-measure nets and keeps only measured passing ones', () => {
    const calls: string[] = [];
    const fake = (arch: string, o: MeasureOptions): Throughput => {
      calls.push(arch);
      const macs = countArch(arch, { inputSize: o.inputSize, inChannels: o.inChannels, classes: o.classes }).macs;
      const v = 4e10 / macs;
      return { trainImgPerS: v, inferImgPerS: 3 * v, batch: o.batch ?? 32, trainSteps: 1, inferSteps: 1, backend: 'fake' };
    };
    const r = runPlan({ budget: { kind: 'img-per-s', value: 100 }, maxMeasure: 10, measureFn: fake });
    assert.ok(calls.length <= 10);
    assert.equal(new Set(calls).size, calls.length, 'no net is measured twice');
    assert.ok(r.candidates.length > 0);
    for (const c of r.candidates) {
      assert.ok(c.trainImgPerS !== null && c.trainImgPerS >= 100);
      assert.ok(c.macs <= 4e8);
    }
    assert.ok(r.recommendation, 'a recommendation among the measured nets');
    assert.ok(r.candidates.some((c) => c.recommended));
    assert.match(r.measurement!.note, /cap --max-measure 10/);
  });

  test('--measure on a params budget measures the recommendation first, within the cap', () => {
    const calls: string[] = [];
    const fake = (arch: string, o: MeasureOptions): Throughput => {
      calls.push(arch);
      return { trainImgPerS: 10, inferImgPerS: 30, batch: o.batch ?? 32, trainSteps: 1, inferSteps: 1, backend: 'fake' };
    };
    const r = runPlan({ budget: { kind: 'params', value: 3e6 }, measure: true, maxMeasure: 3, measureFn: fake });
    assert.deepEqual(calls.length, 3);
    assert.equal(calls[0], 'wrn-16-4');
    assert.equal(r.candidates.filter((c) => c.trainImgPerS !== null).length, 3);
    assert.match(r.measurement!.note, /not measured/);
  });

  test('published errors: exact values and the table they come from', () => {
    assert.deepEqual([primaryPaperResult('wrn-28-10')?.cifar10, primaryPaperResult('wrn-28-10')?.cifar100], [4.0, 19.25]);
    assert.match(primaryPaperResult('wrn-28-10')!.source, /Table 5/);
    const zca = PAPER_RESULTS.find((p) => p.arch === 'wrn-40-4' && p.preprocessing === 'zca');
    assert.deepEqual([zca?.cifar10, zca?.cifar100], [4.97, 22.89]);
    const drop = PAPER_RESULTS.find((p) => p.arch === 'wrn-28-10' && p.dropout);
    assert.deepEqual([drop?.cifar10, drop?.cifar100], [3.89, 18.85]);
    assert.deepEqual([primaryPaperResult('preact-resnet-1001')?.cifar10, primaryPaperResult('preact-resnet-1001')?.cifar100], [4.92, 22.71]);
    // Every row names an architecture the registry builds.
    for (const p of PAPER_RESULTS) assert.equal(countArch(p.arch).arch, p.arch);
  });

  test('bad input: one budget, readable amounts', async () => {
    assert.equal(parseAmount('3e6'), 3e6);
    assert.equal(parseAmount('2.5M'), 2.5e6);
    assert.equal(parseAmount('1,000,000'), 1e6);
    assert.ok(Number.isNaN(parseAmount('lots')));
    await assert.rejects(wrnPlan(['--params', 'lots']), /--params: expected a positive number/);
    await assert.rejects(wrnPlan(['--params', '3M', '--macs', '1G']), /exactly one budget/);
    await assert.rejects(wrnPlan([]), /exactly one budget/);
    await assert.rejects(wrnPlan(['--params', '3M', '--blocks', 'b99']), /--blocks: expected some of b33, .*got 'b99'/);
  });
});
