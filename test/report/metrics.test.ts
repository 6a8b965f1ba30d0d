import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseMetricsJsonl, readMetricsJsonl, validateEpochMetrics } from '../../src/report/metrics.js';

const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wrn-metrics-'));
process.on('exit', () => fs.rmSync(tmpDir, { recursive: true, force: true }));

const row = (epoch: number, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  epoch,
  lr: 0.1,
  train_loss: 1.5 / epoch,
  train_acc: 0.5 + epoch / 100,
  seconds: 12.5,
  img_per_s: 4000,
  ...extra,
});

describe('metrics.jsonl', () => {
  test('parses rows, skips blank lines, keeps null/absent validation fields, drops unknown fields', () => {
    const text = [
      JSON.stringify(row(1, { val_loss: null, val_acc: null })),
      '',
      JSON.stringify(row(2, { val_loss: 0.9, val_acc: 0.71, note: 'x' })),
      '   ',
      JSON.stringify(row(3)),
      '',
    ].join('\n');
    const rows = parseMetricsJsonl(text, 'm.jsonl');
    assert.equal(rows.length, 3);
    assert.equal(rows[0]!.val_acc, null);
    assert.equal(rows[1]!.val_acc, 0.71);
    assert.equal('note' in rows[1]!, false);
    assert.equal('val_acc' in rows[2]!, false);
    assert.equal(rows[2]!.train_loss, 0.5);
  });

  test('invalid JSON names file:line', () => {
    const text = `${JSON.stringify(row(1))}\n\n{"epoch": 3,\n`;
    assert.throws(() => parseMetricsJsonl(text, 'run/metrics.jsonl'), /^Error: run\/metrics\.jsonl:3: invalid JSON/);
  });

  test('missing or mistyped fields name file:line and the field', () => {
    const noLoss = row(2);
    delete noLoss.train_loss;
    const text = `${JSON.stringify(row(1))}\n${JSON.stringify(noLoss)}\n`;
    assert.throws(
      () => parseMetricsJsonl(text, 'a.jsonl'),
      (e: Error) => e.message === "a.jsonl:2: field 'train_loss' expected a finite number, got nothing",
    );
    assert.throws(() => parseMetricsJsonl(JSON.stringify(row(1, { val_acc: '0.9' })), 'b.jsonl'), /b\.jsonl:1: field 'val_acc' expected a finite number or null, got "0\.9"/);
    assert.throws(() => parseMetricsJsonl(JSON.stringify(row(1, { lr: null })), 'c.jsonl'), /c\.jsonl:1: field 'lr' expected a finite number, got null/);
    assert.throws(() => parseMetricsJsonl('[1,2]', 'd.jsonl'), /d\.jsonl:1: expected a JSON object/);
  });

  test('validateEpochMetrics uses the given location', () => {
    assert.throws(() => validateEpochMetrics({ ...row(1), seconds: Number.NaN }, 'rows[4]'), /^Error: rows\[4\]: field 'seconds' expected a finite number, got NaN/);
  });

  test('readMetricsJsonl reads a file and reports a missing one by path', async () => {
    const file = path.join(tmpDir, 'metrics.jsonl');
    fs.writeFileSync(file, [row(1), row(2, { val_acc: 0.8, val_loss: 0.6 })].map((r) => JSON.stringify(r)).join('\n') + '\n');
    const rows = await readMetricsJsonl(file);
    assert.deepEqual(rows.map((r) => r.epoch), [1, 2]);
    const missing = path.join(tmpDir, 'nope.jsonl');
    await assert.rejects(readMetricsJsonl(missing), (e: Error) => e.message.startsWith(`${missing}: cannot read metrics file (ENOENT)`));
    fs.writeFileSync(file, `${JSON.stringify(row(1))}\nnot json\n`);
    await assert.rejects(readMetricsJsonl(file), (e: Error) => e.message.startsWith(`${file}:2: invalid JSON`));
  });
});
