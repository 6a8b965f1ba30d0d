/**
 * Keeping every rank's copy of the model identical: broadcast rank 0's state (initial weights, a
 * resumed checkpoint), average the batch-norm running statistics at epoch ends, and agree on the
 * run's configuration before training.
 */
import type { Module } from '../nn/module.js';
import { AgreedError, type World } from './world.js';

/** Flat copy of a state dict's arrays (fixed order: the model's own). */
function flatten(model: Module, only?: (name: string) => boolean): { names: string[]; data: Float32Array } {
  const arrays = [...model.stateDictArrays()].filter(([k]) => !only || only(k));
  const data = new Float32Array(arrays.reduce((s, [, a]) => s + a.data.length, 0));
  let o = 0;
  for (const [, a] of arrays) {
    data.set(a.data, o);
    o += a.data.length;
  }
  return { names: arrays.map(([k]) => k), data };
}

function unflatten(model: Module, names: string[], data: Float32Array): void {
  const own = model.stateDict();
  let o = 0;
  for (const k of names) {
    const t = own.get(k)!;
    t.assign(data.slice(o, o + t.size));
    o += t.size;
  }
}

/** Every rank takes rank 0's parameters and buffers. */
export function broadcastModel(world: World, model: Module): void {
  const { names, data } = flatten(model);
  world.bcast(data, 0);
  unflatten(model, names, data);
}

const isBnStat = (k: string): boolean => k.endsWith('running_mean') || k.endsWith('running_var');

/** Averages the batch-norm running statistics over the ranks (each rank saw different batches). */
export function averageRunningStats(world: World, model: Module): void {
  const { names, data } = flatten(model, isBnStat);
  if (data.length === 0) return;
  world.allreduce(data, 'sum');
  const inv = 1 / world.size;
  for (let i = 0; i < data.length; i++) data[i] *= inv;
  unflatten(model, names, data);
}

/**
 * Refuses to start when ranks were launched with different settings (architecture, recipe, data,
 * backend, precision, CPU ISA): rank 0's values are broadcast, every rank compares its own, and the
 * differences are summed so that every rank raises the same error.
 */
export function checkAgreement(world: World, mine: Record<string, unknown>): void {
  const keys = Object.keys(mine).sort();
  const root = world.bcastJson<Record<string, unknown>>(world.isRoot ? mine : null);
  const rootKeys = Object.keys(root).sort();
  const differs = new Float64Array(keys.length + 1);
  if (JSON.stringify(rootKeys) !== JSON.stringify(keys)) differs[keys.length] = 1;
  else keys.forEach((k, i) => { differs[i] = JSON.stringify(root[k]) === JSON.stringify(mine[k]) ? 0 : 1; });
  const all = world.allgather(differs);
  const problems: string[] = [];
  const fields = new Set<string>();
  all.forEach((d, r) => {
    const mine = keys.filter((_, i) => d[i] > 0);
    mine.forEach((k) => fields.add(k));
    if (d[keys.length] > 0) mine.push('(a different version of wrn)');
    if (mine.length) problems.push(`rank ${r} differs in ${mine.join(', ')}`);
  });
  if (problems.length) {
    const rootValues = [...fields].map((k) => `${k}=${JSON.stringify(root[k])}`).join(', ');
    throw new AgreedError(`ranks were launched with different configurations: ${problems.join('; ')}` +
      (rootValues ? ` (rank 0 has ${rootValues})` : ''));
  }
}
