export { countArch, enumerateCandidates, PREACT_BASELINES, type Candidate, type EnumerateOptions } from './candidates.js';
export { measureThroughput, type MeasureOptions, type Measurer, type Throughput } from './measure.js';
export {
  PAPER_RESULTS, PAPER_REFERENCE_ONLY, paperResultsFor, primaryPaperResult, shortSource, type PaperResult, type Preprocessing,
} from './paperResults.js';
export {
  runPlan, planToJson, plotPlan, fmtBudget, type Budget, type BudgetKind, type PlanOptions, type PlanCandidate, type PlanResult, type PaperError,
} from './plan.js';
