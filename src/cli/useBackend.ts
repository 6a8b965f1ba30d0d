import type { Precision } from '../backend/backend.js';
import { selectBackend, type BackendChoice } from '../backend/select.js';
import { setBackend } from '../core/engine.js';
import { UserError } from './userError.js';

/** Selects and installs the backend the COMPUTE flags ask for (values already validated); prints which one runs to stderr. */
export function useBackend(f: { backend?: BackendChoice; precision?: Precision }, quiet = false): void {
  let selected;
  try {
    selected = selectBackend(f.backend ?? 'auto', f.precision ?? 'fp32');
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  setBackend(selected.backend);
  if (!quiet) console.error(selected.notice);
}
