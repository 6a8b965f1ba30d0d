/**
 * Feature maps of torchvision's wide_resnet50_2 (layer1..layer4) against Python torchvision 0.14, within
 * 1e-4 relative. The weights are rebuilt here from the hash the fixture script used
 * (test/models/fixtures/make_features_fixture.py), so only the input and the outputs are committed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import type { Shape } from '../../src/backend/backend.js';
import { selectBackend } from '../../src/backend/select.js';
import { noGrad, setBackend, tidy, withBackend } from '../../src/core/engine.js';
import { MetaBackend } from '../../src/backend/meta.js';
import { Tensor } from '../../src/core/tensor.js';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import { createModel } from '../../src/models/index.js';
import { relError } from '../helpers/index.js';

const FIXTURE = path.resolve('test/models/fixtures/wide_resnet50_2.features.safetensors');
const SCRIPT = path.resolve('test/models/fixtures/make_features_fixture.py');
const STAGES = ['layer1', 'layer2', 'layer3', 'layer4'];
const TOL = 1e-4;

function fnv1a(name: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(name)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}

function mix(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/** The fixture script's hash values: u(name, i) * scale + offset, rounded to float32. */
function hashed(name: string, n: number, scale: number, offset: number): Float32Array {
  const seed = fnv1a(name);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = (mix((seed + mix(i + 1)) >>> 0) >>> 8) / 2 ** 23 - 1;
    out[i] = u * scale + offset;
  }
  return out;
}

/** Same rules as `value()` in the fixture script. */
function fixtureValue(name: string, shape: Shape): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  if (name.endsWith('running_var')) return hashed(name, n, 0.25, 1.25);
  if (name.endsWith('running_mean') || (name.endsWith('bias') && shape.length === 1 && !name.startsWith('fc'))) return hashed(name, n, 0.1, 0);
  if (name.endsWith('weight') && shape.length === 1) return hashed(name, n, 0.25, 1);
  if (name === 'fc.bias') return hashed(name, n, Math.sqrt(1 / 2048), 0);
  return hashed(name, n, Math.sqrt(6 / (n / shape[0])), 0);
}

export function fixtureWeights(): Map<string, { shape: Shape; data: Float32Array }> {
  const shapes = withBackend(new MetaBackend(), () => createModel('wide-resnet50-2')).stateDict();
  return new Map([...shapes].map(([k, t]) => [k, { shape: t.shape, data: fixtureValue(k, t.shape) }]));
}

const present = existsSync(FIXTURE);
const skip = present ? false : `${FIXTURE} not found`;

describe('torchvision wide_resnet50_2 feature maps', { skip }, () => {
  const { backend } = selectBackend('auto');
  setBackend(backend);
  const ref = present ? readSafetensors(FIXTURE).tensors : new Map();
  const refData = (k: string) => Float32Array.from(ref.get(k)!.data as Float32Array);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wrn-features-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test(`through the API (createModel featuresOnly, ${backend.name} backend): layer1..4 within ${TOL} relative`, () => {
    const f = createModel('wide-resnet50-2', { featuresOnly: true });
    f.loadStateDict(fixtureWeights(), 'hashed weights');
    f.eval();
    const input = ref.get('input')!;
    const maps = noGrad(() => tidy(() => f.forward(Tensor.fromArray(refData('input'), input.shape)).map((t) => t.toArray())));
    STAGES.forEach((s, i) => {
      const e = relError(maps[i], refData(s));
      assert.ok(e <= TOL, `${s}: relative error ${e.toExponential(2)}`);
    });
    f.dispose();
  });

  /** Runs `wrn features` and compares its output file with the fixture. */
  function checkCli(weights: string, extra: string[]): void {
    const input = path.join(dir, 'input.safetensors');
    writeSafetensors(input, new Map([['input', { shape: ref.get('input')!.shape, data: refData('input') }]]));
    const out = path.join(dir, 'features.safetensors');
    const r = spawnSync(process.execPath, ['bin/wrn.js', 'features', '--weights', weights, ...extra, input,
      '--stages', STAGES.join(','), '--pool', 'none', '--out', out], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const got = readSafetensors(out).tensors;
    for (const s of STAGES) {
      const e = relError(got.get(s)!.data as Float32Array, refData(s));
      assert.ok(e <= TOL, `${s}: relative error ${e.toExponential(2)}`);
      assert.deepEqual(got.get(s)!.shape, ref.get(s)!.shape);
    }
  }

  // The CLI reads the torch.save() file when Python torchvision is here to write one (it is 275 MB,
  // so it is not committed), else a safetensors copy of the same weights.
  const torchvision = spawnSync('/usr/bin/python3', ['-c', 'import torchvision'], { encoding: 'utf8' }).status === 0;
  test(`through \`wrn features\` on ${torchvision ? "the torch.save() file the fixture script writes" : 'a safetensors weights file (--arch, no metadata)'}`, () => {
    if (torchvision) {
      const pth = path.join(dir, 'wide_resnet50_2.pth');
      const r = spawnSync('/usr/bin/python3', [SCRIPT, '--pth', pth, '--out', path.join(dir, 'again.safetensors')], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      checkCli(pth, []);
    } else {
      const w = path.join(dir, 'weights.safetensors');
      writeSafetensors(w, fixtureWeights());
      checkCli(w, ['--arch', 'wide-resnet50-2']);
    }
  });
});
