export { Network, type NetworkConfig } from './network.js';
export { WideResNet, wideResNet, BLOCK_TYPES, blocksPerGroup, type BlockType, type WideResNetOptions } from './wideResNet.js';
export { PreActResNet, preActResNet, type PreActResNetOptions } from './preactResNet.js';
export { PreActNet, type StageSpec } from './preactNet.js';
export { TorchvisionResNet, Bottleneck } from './torchvisionResNet.js';
export { createModel, parseArch, canonicalArch, defaultInputSize, EXAMPLE_ARCHS, type ModelOptions, type FeatureOptions } from './registry.js';
export { FeatureExtractor } from './features.js';
export { summarize, traceLayers, type ModelSummary, type LayerTrace } from './summary.js';
export type { NetworkParts, ForwardHeadOptions, FeatureInfo } from './network.js';
