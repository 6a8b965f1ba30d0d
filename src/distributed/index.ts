export { World, AgreedError, mpiAddonPath, type ReduceOp } from './world.js';
export { mpiLaunch, type MpiLaunch } from './launch.js';
export { GradientSync, DEFAULT_BUCKET_BYTES, type StepComm } from './gradientSync.js';
export { SyncBatchNorm, useSyncBatchNorm } from './syncBatchNorm.js';
export { trainStepDistributed, type DataParallel, type DistributedStepResult } from './step.js';
export { broadcastModel, averageRunningStats, checkAgreement } from './replicate.js';
export { evaluateSharded } from './evaluate.js';
export { runBenchDistributed, type DistributedBenchResult } from './bench.js';
