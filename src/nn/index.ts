export { Module, type LayerTrace } from './module.js';
export { chain, release, step, setEarlyRelease } from './release.js';
export { Conv2d, BatchNorm2d, Act, Dropout, Linear, MaxPool2d, GlobalAvgPool, Sequential, traceChain } from './layers.js';
