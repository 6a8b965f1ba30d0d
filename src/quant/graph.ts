/**
 * The quantizable graph of a pre-activation network: its stem conv, its residual blocks (BN-act, convs,
 * optional 1x1 shortcut) and its head (BN-act, pool, linear). Which activation each conv reads is named
 * after the conv: `layer1.0.conv1` is relu(bn1(x)) (also the shortcut's input), `layer1.0.conv2` is
 * relu(bn2(conv1(...))).
 */
import type { BatchNorm2d, Conv2d, Linear } from '../nn/layers.js';
import type { Network } from '../models/network.js';
import { PreActBlock } from '../models/preactBlock.js';
import { PreActNet } from '../models/preactNet.js';

export interface QuantBlock {
  prefix: string;
  bns: readonly BatchNorm2d[];
  convs: readonly Conv2d[];
  shortcut: Conv2d | null;
}

export interface QuantGraph {
  stem: Conv2d;
  blocks: QuantBlock[];
  head: BatchNorm2d;
  fc: Linear;
}

/** Layers kept in floating point, and why (printed by `wrn quantize`). */
export const FLOAT_LAYERS: Readonly<Record<string, string>> = {
  conv1: 'fp32: the stem reads the raw normalised image (few input channels and MACs, the most sensitive to rounding)',
  'bn+fc': 'fp32: the head (BN-ReLU, global pool, classifier) is a tiny share of the work and sets the logits directly',
};

/** Name of the activation point read by conv `i` (0-based) of a block. */
export function pointName(prefix: string, i: number): string {
  return `${prefix}.conv${i + 1}`;
}

/** The graph, or an Error naming what does not fit (a non pre-activation net, a non-ReLU activation). */
export function quantGraph(net: Network, where: string): QuantGraph {
  if (!(net instanceof PreActNet)) {
    throw new Error(`${where}: int8 quantization supports the pre-activation nets (wrn-D-K, preact-resnet-N), not '${net.config.arch}'`);
  }
  if (net.config.activation !== 'relu') {
    throw new Error(`${where}: int8 quantization needs ReLU activations (u8 after each BN-ReLU), this net uses '${net.config.activation}'`);
  }
  const blocks: QuantBlock[] = [];
  net.layers.forEach((stage, g) => {
    for (const [name, m] of stage.children()) {
      if (!(m instanceof PreActBlock)) throw new Error(`${where}: layer${g + 1}.${name} is not a pre-activation block`);
      const { bns, convs, shortcut } = m.parts();
      blocks.push({ prefix: `layer${g + 1}.${name}`, bns, convs, shortcut });
    }
  });
  return { stem: net.conv1, blocks, head: net.bn, fc: net.fc };
}
