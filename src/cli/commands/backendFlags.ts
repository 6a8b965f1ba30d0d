import type { Command } from 'commander';
import type { Precision } from '../../backend/backend.js';
import { selectBackend, type BackendChoice } from '../../backend/select.js';
import { setBackend } from '../../core/engine.js';
import { UserError } from '../userError.js';

export interface BackendFlags {
  backend?: string;
  precision?: string;
}

export function backendOptions(cmd: Command): Command {
  return cmd
    .option('--backend <b>', 'auto | js | native (default auto: native when it loads)')
    .option('--precision <p>', 'fp32 | bf16 (bf16 needs the native backend)');
}

/** Selects and installs the backend the flags ask for; prints which one runs to stderr. */
export function useBackend(f: BackendFlags, quiet = false): void {
  const choice = f.backend ?? 'auto';
  if (!['auto', 'js', 'native'].includes(choice)) throw new UserError(`--backend: expected auto, js or native, got '${choice}'`);
  const precision = f.precision ?? 'fp32';
  if (precision !== 'fp32' && precision !== 'bf16') throw new UserError(`--precision: expected fp32 or bf16, got '${precision}'`);
  const { backend, notice } = selectBackend(choice as BackendChoice, precision as Precision);
  setBackend(backend);
  if (!quiet) console.error(notice);
}
