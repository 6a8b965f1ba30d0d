/** Learning-rate schedules, as functions of the (fractional) epoch. */
export type ScheduleName = 'paper' | 'cosine' | 'onecycle';

export interface ScheduleConfig {
  name: ScheduleName;
  lr: number;
  epochs: number;
  /** Linear warm-up from 0 over this many epochs (0: none). */
  warmupEpochs?: number;
}

/**
 * lr at a (fractional) epoch:
 * - paper: lr multiplied by 0.2 at 30%, 60% and 80% of training (Zagoruyko & Komodakis, CIFAR);
 * - cosine: lr/2 (1 + cos(pi t/T));
 * - onecycle: linear up to lr over the first 30%, then cosine down to lr/1e4 (fast.ai style).
 * With warm-up, lr rises linearly from 0 to the schedule's value over the first `warmupEpochs`.
 */
export function learningRate(cfg: ScheduleConfig, epoch: number): number {
  const t = Math.min(Math.max(epoch / cfg.epochs, 0), 1);
  let lr: number;
  switch (cfg.name) {
    case 'paper': {
      const drops = [0.3, 0.6, 0.8].filter((m) => epoch >= m * cfg.epochs - 1e-9).length;
      lr = cfg.lr * 0.2 ** drops;
      break;
    }
    case 'cosine':
      lr = (cfg.lr / 2) * (1 + Math.cos(Math.PI * t));
      break;
    case 'onecycle': {
      const peak = 0.3;
      const min = cfg.lr / 1e4;
      lr = t < peak ? min + (cfg.lr - min) * (t / peak) : min + ((cfg.lr - min) / 2) * (1 + Math.cos((Math.PI * (t - peak)) / (1 - peak)));
      break;
    }
  }
  const w = cfg.warmupEpochs ?? 0;
  return w > 0 && epoch < w ? lr * (epoch / w) : lr;
}
