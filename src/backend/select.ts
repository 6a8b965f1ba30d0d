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
      let notice = `backend: ${native.backend.describe()}`;
      // Measured here (AVX-512 BF16, no AMX): bf16 trained WRN-28-10 at 16.8 img/s against 21.2 in fp32,
      // whose 3x3 convolutions run as Winograd; with AMX, bf16 is the fast path.
      if (precision === 'bf16' && !/amx/.test(native.backend.info().isa)) {
        notice += '\nnote: this CPU has no AMX, so bf16 convolutions run on AVX-512 BF16 and can be slower than fp32 ' +
          '(Winograd) for wide networks; `wrn bench --precision fp32|bf16` compares them';
      }
      return { backend: native.backend, notice };
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
