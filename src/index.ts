/**
 * wide-resnet: Wide Residual Networks in TypeScript.
 * The library API mirrors the `wrn` CLI; see README.md.
 */
export type { Backend, Storage, Shape, Activation, Precision } from './backend/backend.js';
export { selectBackend, type BackendChoice } from './backend/select.js';
export { JsBackend } from './backend/js/index.js';
export { Tensor } from './core/tensor.js';
export { tidy, noGrad, setBackend, getBackend } from './core/engine.js';
export { backward } from './core/autograd.js';
export { Rng } from './core/random.js';
export * as ops from './ops/index.js';
export * from './nn/index.js';
export * from './models/index.js';
export * from './optim/index.js';
export * as data from './data/index.js';
export * from './report/index.js';
export * as io from './io/index.js';
export { train, PAPER_DEFAULTS, DivergedError, type TrainConfig, type TrainEvents, type TrainResult } from './train/trainer.js';
export { evaluate, type EvaluateOptions, type Evaluation } from './inference/evaluate.js';
export { loadModel, Classifier, topK, type Prediction, type ImageInput } from './inference/classifier.js';
export { evaluateBatches, type EvalResult } from './inference/evaluate.js';
export { saveWeights, readAnyWeights } from './inference/weights.js';
export * as distributed from './distributed/index.js';
export type { ModelMeta } from './inference/modelMeta.js';
export { extractFeatures, stageShapes, type FeatureBatch, type ExtractFeaturesOptions } from './inference/features.js';
