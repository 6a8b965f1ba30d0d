export { SGD, type SgdConfig } from './sgd.js';
export { learningRate, type ScheduleConfig, type ScheduleName } from './schedule.js';
