import type { Backend, Precision } from './backend.js';
import { JsBackend } from './js/index.js';
import { loadNativeBackend } from './native/index.js';

export type BackendChoice = 'auto' | 'js' | 'native';

export interface Selected {
  backend: Backend;
  /** One line for the user: which backend runs and, on fallback, how to get the fast one. */
  notice: string;
}

/**
 * The native (oneDNN) backend when it loads, else the TypeScript reference backend. `native` forces
 * the native one (an error if it cannot load); `js` forces the reference one.
 */
export function selectBackend(choice: BackendChoice = 'auto', precision: Precision = 'fp32'): Selected {
  if (choice !== 'js') {
    const native = loadNativeBackend();
    if (native.backend) {
      native.backend.setPrecision(precision);
      return { backend: native.backend, notice: `backend: ${native.backend.describe()}` };
    }
    if (choice === 'native') throw new Error(`--backend native: the oneDNN addon is not available (${native.reason})`);
    if (precision !== 'fp32') throw new Error(`--precision ${precision} needs the native backend, which is not available (${native.reason})`);
    const js = new JsBackend();
    return {
      backend: js,
      notice: `backend: ${js.describe()} -- the fast oneDNN backend is not available (${native.reason}); ` +
        'install it with `sudo apt-get install libdnnl-dev && npm run build:native`',
    };
  }
  const js = new JsBackend();
  js.setPrecision(precision);
  return { backend: js, notice: `backend: ${js.describe()}` };
}
