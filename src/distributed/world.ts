/**
 * The MPI world of a data-parallel run: rank, size, and the collectives the trainer needs, over the
 * MPI addon (native/mpi, built into native/mpi/build/Release/wrn_mpi.node). Every MPI call runs on the
 * addon's communication thread in submission order; blocking calls wait at most `timeoutMs`.
 *
 * The addon is separate from the oneDNN one, so a machine without libmpi loses only this.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mpiLaunch } from './launch.js';

type Reducible = Float32Array | Float64Array | Int32Array;
export type ReduceOp = 'sum' | 'max' | 'min';

interface MpiAddon {
  init(): { rank: number; size: number; threadLevel: string; library: string; host: string };
  allreduceAsync(buf: Reducible, op: ReduceOp): Promise<number>;
  allreduce(buf: Reducible, op: ReduceOp, timeoutMs: number): number;
  bcast(buf: Reducible | Uint8Array, root: number, timeoutMs: number): number;
  barrier(timeoutMs: number): number;
  abort(code: number): void;
  finalize(): void;
}

/**
 * An error every rank raises identically (bad flags, a batch not divisible by the world size, ranks
 * that disagree): rank 0 prints it, every rank finalises MPI and exits 1 — no abort needed.
 */
export class AgreedError extends Error {
  override readonly name = 'AgreedError';
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const DEFAULT_ADDON = path.join(ROOT, 'native/mpi/build/Release/wrn_mpi.node');

/** Where the addon is looked for: $WRN_MPI_ADDON, else the build output. */
export function mpiAddonPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.WRN_MPI_ADDON || DEFAULT_ADDON;
}

function loadAddon(file: string): MpiAddon {
  if (!existsSync(file)) {
    throw new AgreedError(`launched by mpirun, but the MPI addon is not built (${file} is missing): ` +
      'install Open MPI (`sudo apt-get install openmpi-bin libopenmpi-dev`, or `bash scripts/setup.sh`) and run `npm run build:mpi`');
  }
  try {
    return createRequire(import.meta.url)(file) as MpiAddon;
  } catch (e) {
    throw new AgreedError(`launched by mpirun, but the MPI addon ${file} does not load (${(e as Error).message.split('\n')[0]}): ` +
      'rebuild it with `npm run build:mpi`');
  }
}

export class World {
  readonly rank: number;
  readonly size: number;
  /** e.g. "Open MPI 4.1.4". */
  readonly library: string;
  readonly threadLevel: string;
  readonly host: string;
  private finalized = false;

  private constructor(private readonly addon: MpiAddon, readonly timeoutMs: number) {
    const info = addon.init();
    this.rank = info.rank;
    this.size = info.size;
    this.threadLevel = info.threadLevel;
    this.host = info.host;
    const m = /Open MPI v(\d+\.\d+\.\d+)/.exec(info.library);
    this.library = m ? `Open MPI ${m[1]}` : info.library.split(',')[0].trim();
  }

  /**
   * The world when the process was launched by MPI, else null (a plain run: MPI is never touched).
   * Throws an AgreedError when launched by MPI without a usable addon, so that no rank trains alone.
   */
  static fromEnvironment(opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): World | null {
    const env = opts.env ?? process.env;
    if (!mpiLaunch(env)) return null;
    return new World(loadAddon(mpiAddonPath(env)), opts.timeoutMs ?? 300_000);
  }

  get isRoot(): boolean {
    return this.rank === 0;
  }

  /** In place, blocking. */
  allreduce<T extends Reducible>(buf: T, op: ReduceOp = 'sum'): T {
    this.addon.allreduce(buf, op, this.timeoutMs);
    return buf;
  }

  /** In place, on the communication thread; resolves with the seconds spent inside MPI_Allreduce. */
  allreduceAsync(buf: Reducible, op: ReduceOp = 'sum'): Promise<number> {
    return this.addon.allreduceAsync(buf, op);
  }

  bcast<T extends Reducible | Uint8Array>(buf: T, root = 0): T {
    this.addon.bcast(buf, root, this.timeoutMs);
    return buf;
  }

  /** Rank `root`'s bytes on every rank (length first, then the bytes). */
  bcastBytes(bytes: Uint8Array | null, root = 0): Uint8Array {
    const len = this.bcast(new Float64Array([this.rank === root ? (bytes?.length ?? 0) : 0]), root)[0];
    const out = this.rank === root && bytes ? bytes : new Uint8Array(len);
    return this.bcast(out, root);
  }

  /** Rank `root`'s JSON value on every rank. */
  bcastJson<T>(value: T | null, root = 0): T {
    const bytes = this.rank === root ? new TextEncoder().encode(JSON.stringify(value)) : null;
    return JSON.parse(new TextDecoder().decode(this.bcastBytes(bytes, root))) as T;
  }

  /**
   * Runs `fn` on rank 0 only (reading the run directory, which belongs to rank 0) and gives its
   * bytes to every rank; if it throws, every rank throws the same AgreedError.
   */
  fromRoot(fn: () => Uint8Array): Uint8Array {
    let bytes: Uint8Array | null = null;
    let error: string | null = null;
    if (this.isRoot) {
      try {
        bytes = fn();
      } catch (e) {
        error = (e as Error).message;
      }
    }
    error = this.bcastJson<string | null>(error);
    if (error !== null) throw new AgreedError(error);
    return this.bcastBytes(bytes);
  }

  /** `fromRoot` for a JSON value (undefined becomes null). */
  fromRootJson<T>(fn: () => T): T {
    const bytes = this.fromRoot(() => new TextEncoder().encode(JSON.stringify(fn() ?? null)));
    return JSON.parse(new TextDecoder().decode(bytes)) as T;
  }

  /** Every rank's fixed-length vector, rank-major (an allgather built on a sum allreduce). */
  allgather(mine: ArrayLike<number>): Float64Array[] {
    const k = mine.length;
    const all = new Float64Array(k * this.size);
    for (let i = 0; i < k; i++) all[this.rank * k + i] = mine[i];
    this.allreduce(all, 'sum');
    return Array.from({ length: this.size }, (_, r) => all.slice(r * k, (r + 1) * k));
  }

  barrier(): void {
    this.addon.barrier(this.timeoutMs);
  }

  /** Ends every rank of the job now (mpirun reports the calling rank). */
  abort(code = 1): never {
    this.addon.abort(code);
    process.exit(code);
  }

  finalize(): void {
    if (this.finalized) return;
    this.finalized = true;
    this.addon.finalize();
  }
}

/** `--batch` is the global batch: it must split evenly over the ranks (every rank raises this alike). */
export function checkGlobalBatch(world: World, batch: number): void {
  if (batch % world.size !== 0) {
    throw new AgreedError(`--batch ${batch} is the global batch and must be divisible by the ${world.size} ranks ` +
      `(e.g. --batch ${Math.max(1, Math.round(batch / world.size)) * world.size})`);
  }
}
