/**
 * Whether this process was started by an MPI launcher, read from the environment the launcher sets
 * (Open MPI's mpirun/orterun, PMIx — Slurm's `srun --mpi=pmix` — and PMI-1/2). A process without
 * these variables is a plain run and never loads or initialises MPI.
 */
export interface MpiLaunch {
  rank: number;
  /** World size when the launcher says it (PMIx alone does not); otherwise null. */
  size: number | null;
  /** The variable the rank came from (for messages). */
  source: string;
}

const RANK_VARS: readonly [rank: string, size: string | null][] = [
  ['OMPI_COMM_WORLD_RANK', 'OMPI_COMM_WORLD_SIZE'],
  ['PMIX_RANK', null],
  ['PMI_RANK', 'PMI_SIZE'],
];

export function mpiLaunch(env: NodeJS.ProcessEnv = process.env): MpiLaunch | null {
  for (const [rv, sv] of RANK_VARS) {
    const r = env[rv];
    if (r === undefined || !/^\d+$/.test(r)) continue;
    const s = sv ? env[sv] : undefined;
    return { rank: Number(r), size: s !== undefined && /^\d+$/.test(s) ? Number(s) : null, source: rv };
  }
  return null;
}
