/**
 * Published CIFAR test errors (%) for configurations that this project can build, with the table each value
 * comes from. Sources:
 * - Zagoruyko & Komodakis, "Wide Residual Networks", BMVC 2016 (arXiv:1605.07146v4):
 *   Table 4: "Test error (%) of various wide networks on CIFAR-10 and CIFAR-100 (ZCA preprocessing)".
 *   Table 5: "Test error of different methods on CIFAR-10 and CIFAR-100 with moderate data augmentation
 *            (flip/translation) and mean/std normalization", median of 5 runs; its baseline rows quote
 *            He et al. 2016 ("Identity Mappings in Deep Residual Networks") for the pre-activation ResNets.
 *   Table 6: "Effect of dropout in residual block (mean/std preprocessing, CIFAR numbers are based on median of 5 runs)".
 * - The authors' repository README (github.com/szagoruyko/wide-residual-networks): the mean/std rows for
 *   pre-ResNet-164, pre-ResNet-1001, WRN-28-10 and WRN-28-10-dropout (same values as Table 5), and the single
 *   run of WRN-40-10-dropout.
 *
 * `checked` says whether the value was compared against a second source available while writing this table:
 * the authors' README (pre-ResNet-164/1001, WRN-28-10 with and without dropout, WRN-40-10-dropout) or an
 * independent reimplementation's README that quotes the CIFAR-10 column of Table 5 (pre-act ResNet-110 6.37,
 * WRN-16-4 5.02, WRN-40-4 4.53, WRN-16-8 4.27, original ResNet-110 6.43). The others are transcribed from
 * the paper's tables only.
 */

export type Preprocessing = 'meanstd' | 'zca';

export interface PaperResult {
  /** Canonical architecture name in this project's registry (createModel accepts it). */
  arch: string;
  /** Name as printed in the paper. */
  name: string;
  /** Dropout between the block's convolutions (0.3 in the paper) or not. */
  dropout: boolean;
  /** Test error in percent; null where the table has no entry. */
  cifar10: number | null;
  cifar100: number | null;
  /** Where the numbers come from, e.g. "WRN paper, Table 5". */
  source: string;
  preprocessing: Preprocessing;
  /** Median of 5 runs (true) or a single run (false). */
  median5: boolean;
  checked: boolean;
}

const T4 = 'Zagoruyko & Komodakis 2016, Table 4 (ZCA preprocessing)';
const T5 = 'Zagoruyko & Komodakis 2016, Table 5 (mean/std normalization, median of 5 runs)';
const T5HE = 'Zagoruyko & Komodakis 2016, Table 5, quoting He et al. 2016 (mean/std normalization)';
const T6 = 'Zagoruyko & Komodakis 2016, Table 6 (mean/std preprocessing, median of 5 runs)';
const README = "authors' README, single run (mean/std normalization)";

const wrn = (arch: string, dropout: boolean, c10: number | null, c100: number | null, source: string,
  preprocessing: Preprocessing, checked = false, median5 = true): PaperResult => ({
  arch, name: `WRN-${arch.slice(4)}${dropout ? '-dropout' : ''}`, dropout, cifar10: c10, cifar100: c100, source, preprocessing, median5, checked,
});

export const PAPER_RESULTS: readonly PaperResult[] = [
  // Table 4 (ZCA whitening).
  wrn('wrn-40-1', false, 6.85, 30.89, T4, 'zca'),
  wrn('wrn-40-2', false, 5.33, 26.04, T4, 'zca'),
  wrn('wrn-40-4', false, 4.97, 22.89, T4, 'zca'),
  wrn('wrn-40-8', false, 4.66, null, T4, 'zca'),
  wrn('wrn-28-10', false, 4.17, 20.50, T4, 'zca'),
  wrn('wrn-28-12', false, 4.33, 20.43, T4, 'zca'),
  wrn('wrn-22-8', false, 4.38, 21.22, T4, 'zca'),
  wrn('wrn-22-10', false, 4.44, 20.75, T4, 'zca'),
  wrn('wrn-16-8', false, 4.81, 22.07, T4, 'zca'),
  wrn('wrn-16-10', false, 4.56, 21.59, T4, 'zca'),
  // Table 5 (mean/std).
  { arch: 'preact-resnet-110', name: 'pre-act-ResNet-110', dropout: false, cifar10: 6.37, cifar100: null, source: T5HE, preprocessing: 'meanstd', median5: false, checked: true },
  { arch: 'preact-resnet-164', name: 'pre-act-ResNet-164', dropout: false, cifar10: 5.46, cifar100: 24.33, source: T5HE, preprocessing: 'meanstd', median5: false, checked: true },
  { arch: 'preact-resnet-1001', name: 'pre-act-ResNet-1001', dropout: false, cifar10: 4.92, cifar100: 22.71, source: T5HE, preprocessing: 'meanstd', median5: false, checked: true },
  wrn('wrn-40-4', false, 4.53, 21.18, T5, 'meanstd', true),
  wrn('wrn-16-8', false, 4.27, 20.43, T5, 'meanstd', true),
  wrn('wrn-28-10', false, 4.00, 19.25, T5, 'meanstd', true),
  wrn('wrn-28-10', true, 3.89, 18.85, T5, 'meanstd', true),
  // Table 6 (dropout, mean/std).
  wrn('wrn-16-4', false, 5.02, 24.03, T6, 'meanstd', true),
  wrn('wrn-16-4', true, 5.24, 23.91, T6, 'meanstd'),
  wrn('wrn-52-1', false, 6.43, 29.89, T6, 'meanstd'),
  wrn('wrn-52-1', true, 6.28, 29.78, T6, 'meanstd'),
  // README: single run.
  wrn('wrn-40-10', true, 3.8, 18.3, README, 'meanstd', true, false),
];

/**
 * Reference rows for networks this project does not build (shown for context only): the original
 * post-activation ResNets of He et al. 2015 as quoted in the WRN paper's Table 5.
 */
export const PAPER_REFERENCE_ONLY: readonly Omit<PaperResult, 'arch'>[] = [
  { name: 'ResNet-110 (original, post-activation; He et al. 2015)', dropout: false, cifar10: 6.43, cifar100: 25.16, source: T5, preprocessing: 'meanstd', median5: false, checked: true },
  { name: 'ResNet-1202 (original, post-activation; He et al. 2015)', dropout: false, cifar10: 7.93, cifar100: 27.82, source: T5, preprocessing: 'meanstd', median5: false, checked: false },
];

/** Every published row for an architecture (canonical name). */
export function paperResultsFor(arch: string): PaperResult[] {
  return PAPER_RESULTS.filter((r) => r.arch === arch);
}

/**
 * The one row that stands for an architecture: without dropout (the architecture itself, as in most rows),
 * mean/std preprocessing (this project's) before ZCA, then with dropout; among equals the first listed.
 * `dataset` picks which error must be present.
 */
export function primaryPaperResult(arch: string, dataset: 'cifar10' | 'cifar100' = 'cifar10'): PaperResult | null {
  const rows = paperResultsFor(arch).filter((r) => r[dataset] !== null);
  const rank = (r: PaperResult): number => (r.dropout ? 2 : 0) + (r.preprocessing === 'meanstd' ? 0 : 1);
  return rows.slice().sort((a, b) => rank(a) - rank(b))[0] ?? null;
}

/** "T5" style short names for table cells. */
export function shortSource(r: PaperResult): string {
  if (r.source.startsWith(README)) return 'README';
  const m = /Table (\d+)/.exec(r.source);
  return m ? `T${m[1]}` : r.source;
}
