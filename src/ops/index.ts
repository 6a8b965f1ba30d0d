export { conv2d } from './conv2d.js';
export { batchNorm, type BatchNormState } from './batchNorm.js';
export { activation, relu, dropout, add } from './elementwise.js';
export { globalAvgPool, maxPool2d } from './pool.js';
export { linear } from './linear.js';
export { crossEntropy } from './loss.js';
