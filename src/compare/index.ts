export {
  runCompare, summarizeRun, isFinished, runDir, runConfig, fullRecipe, epochsForMinutes,
  type CompareOptions, type CompareEvents, type CompareState, type Recipe, type RunSummary,
} from './compare.js';
export { writeReport, summarizeArchs, stat, tableRows, markdown, TABLE_HEADER, type ArchSummary, type CompareReport, type Stat } from './report.js';
