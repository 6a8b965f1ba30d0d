export {
  type EpochMetrics,
  type MetricName,
  METRIC_NAMES,
  readMetricsJsonl,
  parseMetricsJsonl,
  validateEpochMetrics,
} from './metrics.js';
export {
  plotTrainingCurves,
  plotConfusionMatrix,
  plotScatter,
  plotCurvesOverlay,
  plotPareto,
  paretoFront,
  type PlotFiles,
  type ScatterPoint,
  type ScatterOptions,
  type ParetoPoint,
  type ParetoOptions,
  type RunCurves,
} from './plots.js';
export { findFont, renderPlot, specToSvg, svgToPng, type FontSetup } from './render.js';
