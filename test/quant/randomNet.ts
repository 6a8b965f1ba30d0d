/** Random weights for the int8 suites: non-trivial BN statistics and biases, so int8 errors would show. */
import type { Rng } from '../../src/core/random.js';
import type { Network } from '../../src/models/network.js';
import { randnF32 as randn } from '../helpers/index.js';

/** Draws every BN's running statistics and scale and every bias from `r`, in state-dict order. */
export function randomizeStatistics(net: Network, r: Rng): void {
  const sd = net.stateDictArrays();
  for (const [k, t] of sd) {
    if (k.endsWith('running_var')) t.data.set(Float32Array.from(t.data, () => 0.5 + r.next()));
    else if (k.endsWith('running_mean') || k.endsWith('.bias')) t.data.set(randn(r, t.data.length, 0.1));
    else if (/bn\d?\.weight$/.test(k)) t.data.set(Float32Array.from(t.data, () => 0.5 + r.next()));
  }
  net.loadStateDict(sd, 'random');
}
