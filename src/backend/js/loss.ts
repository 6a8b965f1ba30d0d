/**
 * Mean softmax cross-entropy with label smoothing, PyTorch's F.cross_entropy(logits, labels,
 * label_smoothing=s): target = (1 - s) * onehot + s / K, loss = mean_n sum_k -target_k * log_softmax_k,
 * dlogits = (softmax - target) / N. Numerically stable (row max subtracted).
 */
import { type FloatArray, allocLike, checkRank, checkSize } from './types.js';

export interface CrossEntropyResult { loss: number; dlogits: FloatArray }

export function softmaxCrossEntropy(
  logits: FloatArray, shape: readonly number[], labels: Int32Array, labelSmoothing: number,
): CrossEntropyResult {
  checkRank('softmaxCrossEntropy', shape, 2, '[N,K] logits');
  checkSize('softmaxCrossEntropy logits', logits, shape);
  const [n, k] = shape;
  if (labels.length !== n) throw new Error(`softmaxCrossEntropy: ${labels.length} labels for ${n} rows of logits`);
  const s = labelSmoothing;
  if (!(s >= 0 && s < 1)) throw new Error(`softmaxCrossEntropy: label smoothing must be in [0, 1), got ${s}`);
  if (n === 0) throw new Error('softmaxCrossEntropy: empty batch');
  const dlogits = allocLike(logits, n * k);
  const off = s / k;
  const on = 1 - s + off;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const label = labels[i];
    if (!(Number.isInteger(label) && label >= 0 && label < k)) {
      throw new Error(`softmaxCrossEntropy: label ${label} of row ${i} outside [0, ${k})`);
    }
    const row = i * k;
    let max = -Infinity;
    for (let j = 0; j < k; j++) if (logits[row + j] > max) max = logits[row + j];
    let sumExp = 0;
    for (let j = 0; j < k; j++) sumExp += Math.exp(logits[row + j] - max);
    const logZ = max + Math.log(sumExp);
    // loss_i = -sum_j t_j (l_j - logZ) = logZ - sum_j t_j l_j   (sum_j t_j = 1)
    let tl = 0;
    for (let j = 0; j < k; j++) {
      const t = j === label ? on : off;
      const l = logits[row + j];
      tl += t * l;
      dlogits[row + j] = (Math.exp(l - logZ) - t) / n;
    }
    total += logZ - tl;
  }
  return { loss: total / n, dlogits };
}
