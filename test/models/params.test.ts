import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MetaBackend } from '../../src/backend/meta.js';
import { setBackend } from '../../src/core/engine.js';
import { createModel, parseArch, summarize } from '../../src/models/index.js';

// Shapes only: building WRN-101-2 allocates nothing.
setBackend(new MetaBackend());

/** Builds, counts and frees (the big nets are hundreds of MB). */
function count(arch: string, classes?: number, inputSize?: number): { params: number; macs: number; names: string[] } {
  const m = createModel(arch, { classes });
  const s = summarize(m, inputSize ?? (parseArch(arch).family === 'imagenet' ? 224 : 32));
  const names = [...m.stateDict().keys()];
  m.dispose();
  return { params: s.params, macs: s.macs, names };
}

describe('parameter counts match the paper and PyTorch exactly', () => {
  // Paper / issue figures; pre-act ResNets and torchvision nets from scripts/reference/preact_resnet.py (PyTorch 1.13).
  const cases: [string, number, number?][] = [
    ['wrn-40-4', 8_949_210], ['wrn-16-8', 10_961_370], ['wrn-28-10', 36_479_194], ['wrn-22-8', 17_158_106],
    ['wrn-40-10', 55_841_754], ['wrn-16-4', 2_748_890], ['wrn-28-10', 36_536_884, 100], ['wrn-40-2', 2_243_546],
    ['preact-resnet-110', 1_730_522], ['preact-resnet-164', 1_703_258], ['preact-resnet-1001', 10_327_706],
    ['resnet50', 25_557_032], ['wide-resnet50-2', 68_883_240], ['wide_resnet101_2', 126_886_696],
  ];
  for (const [arch, params, classes] of cases) {
    test(`${arch}${classes ? ` (${classes} classes)` : ''}: ${params.toLocaleString('en-US')}`, () => {
      assert.equal(count(arch, classes).params, params);
    });
  }
});

describe('MACs per image match PyTorch forward hooks', () => {
  const cases: [string, number][] = [
    ['wrn-16-4', 392_612_352], ['wrn-28-10', 5_243_328_768], ['wide-resnet50-2', 11_398_021_120],
    ['preact-resnet-164', 247_646_720], ['preact-resnet-110', 253_149_824], ['resnet50', 4_089_184_256],
  ];
  for (const [arch, macs] of cases) test(`${arch}: ${macs.toLocaleString('en-US')}`, () => assert.equal(count(arch).macs, macs));
});

describe('the paper block types', () => {
  // Table 2 of the paper (WRN-d-2, CIFAR): depth and approximate parameter counts (millions).
  const cases: [string, number][] = [
    ['wrn-40-2-b131', 1.4], ['wrn-40-2-b31', 1.2], ['wrn-40-2-b13', 1.3], ['wrn-40-2-b311', 1.3], ['wrn-28-2-b33', 1.5], ['wrn-22-2-b313', 1.1],
  ];
  for (const [arch, millions] of cases) {
    test(`${arch} has about ${millions}M parameters`, () => {
      assert.equal(Math.round(count(arch).params / 1e5) / 10, millions);
    });
  }
  test('depths that do not fit a block type are refused with the rule', () => {
    assert.throws(() => createModel('wrn-27-10'), /depth must be 6N\+4/);
    assert.throws(() => createModel('wrn-27-2-b313'), /B\(3,1,3\)/);
    assert.throws(() => createModel('wrn-28-2-b99'), /unknown block type/);
    assert.throws(() => createModel('resnet-18'), /unknown architecture/);
  });
});

test('canonical WRN parameter names (fixtures README) and torchvision names', () => {
  const wrn = count('wrn-10-2').names;
  assert.deepEqual(wrn.slice(0, 7), ['conv1.weight', 'layer1.0.bn1.weight', 'layer1.0.bn1.bias', 'layer1.0.bn1.running_mean', 'layer1.0.bn1.running_var', 'layer1.0.conv1.weight', 'layer1.0.bn2.weight']);
  assert.ok(wrn.includes('layer2.0.shortcut.weight') && wrn.includes('bn.running_var') && wrn.includes('fc.bias'));
  const tv = count('resnet50').names;
  for (const k of ['conv1.weight', 'bn1.running_mean', 'layer1.0.downsample.0.weight', 'layer1.0.downsample.1.weight', 'layer4.2.conv3.weight', 'fc.weight']) {
    assert.ok(tv.includes(k), k);
  }
});
