/** Backend selection: what the user is told about the backend and precision that will run. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadNativeBackend } from '../../src/backend/native/index.js';
import { selectBackend } from '../../src/backend/select.js';

const { backend: native, reason } = loadNativeBackend();

test('js backend: the notice names it', () => {
  const { backend, notice } = selectBackend('js');
  assert.match(notice, /^backend: /);
  assert.equal(backend.describe(), notice.slice('backend: '.length));
});

test('bf16 without AMX comes with a note that fp32 may be faster; fp32 and AMX CPUs get none', { skip: native?.info().bf16 ? false : `no native bf16 here (${reason ?? 'CPU without bf16'})` }, () => {
  try {
    const amx = /amx/.test(native!.info().isa);
    const bf16 = selectBackend('native', 'bf16').notice;
    assert.equal(/no AMX/.test(bf16), !amx, bf16);
    assert.doesNotMatch(selectBackend('native', 'fp32').notice, /note:/);
  } finally {
    native!.setPrecision('fp32');
  }
});
