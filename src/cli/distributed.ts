/**
 * How a CLI command runs under mpirun: MPI is initialised only when the environment says the process
 * was launched by an MPI launcher; rank 0 alone prints; errors every rank raises alike (bad flags, a
 * batch not divisible by the ranks, ranks that disagree) print one line on rank 0 and every rank
 * exits 1 after MPI_Finalize; any other error prints with the rank's number and aborts the whole job
 * (MPI_Abort), so no rank is left waiting in a collective.
 */
import { availableParallelism } from 'node:os';
import { mpiLaunch } from '../distributed/launch.js';
import { AgreedError, World } from '../distributed/world.js';
import { DivergedError } from '../train/trainer.js';

export interface DistributedRun {
  world: World | null;
  /** False on ranks other than 0: print nothing but errors. */
  speaks: boolean;
}

/** Seconds a blocking collective may wait for the other ranks before the job is aborted. */
export const DEFAULT_COMM_TIMEOUT_S = 300;

/**
 * `prepare` runs before MPI starts (flag parsing: its errors are the same on every rank, so only rank
 * 0 prints them); `run` gets the world (null for a plain run).
 */
export async function runDistributed<T>(
  prepare: () => T, run: (d: DistributedRun, prepared: T) => Promise<void>, timeoutS = DEFAULT_COMM_TIMEOUT_S,
): Promise<void> {
  const launch = mpiLaunch();
  if (!launch) {
    await run({ world: null, speaks: true }, prepare());
    return;
  }
  const speaks = launch.rank === 0;
  let world: World | null = null;
  try {
    const prepared = prepare();
    // OpenMP threads per rank: the cores this rank may use (mpirun's binding), unless told otherwise.
    process.env.OMP_NUM_THREADS ??= String(availableParallelism());
    world = World.fromEnvironment({ timeoutMs: timeoutS * 1000 });
    await run({ world, speaks }, prepared);
    world?.finalize();
  } catch (e) {
    if (e instanceof AgreedError || e instanceof DivergedError || !world) {
      world?.finalize();
      if (speaks) throw e;
      process.exitCode = 1;
      return;
    }
    const err = e as Error;
    const bug = err instanceof TypeError || err instanceof ReferenceError || err instanceof RangeError || !(err instanceof Error);
    console.error(`wrn: rank ${launch.rank}: ${bug || process.env.WRN_DEBUG || process.argv.includes('--debug') ? String(err.stack ?? err) : err.message}`);
    world.abort(1);
  }
}

/** "distributed: 4 ranks (Open MPI 4.1.4), global batch 128 = 4 x 32". */
export function describeWorld(world: World, batch: number): string {
  return `distributed: ${world.size} rank${world.size === 1 ? '' : 's'} (${world.library}, thread level ${world.threadLevel}), ` +
    `global batch ${batch} = ${world.size} x ${batch / world.size}`;
}
