import type { Precision } from '../backend/backend.js';
import { selectBackend, type BackendChoice } from '../backend/select.js';
import { setBackend } from '../core/engine.js';
import { UserError } from './userError.js';

/**
 * Selects and installs the backend the COMPUTE flags ask for (values already validated) and returns the
 * line saying which one runs; commands print it to stderr once their input has been read, so that a bad
 * input file stays a one-line error.
 */
export function useBackend(f: { backend?: BackendChoice; precision?: Precision }): string {
  let selected;
  try {
    selected = selectBackend(f.backend ?? 'auto', f.precision ?? 'fp32');
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  setBackend(selected.backend);
  return selected.notice;
}
