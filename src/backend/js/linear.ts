/** Fully connected layer y = x w^T + b, x [N,in], w [out,in], b [out]. */
import { gemm } from './matmul.js';
import { type FloatArray, allocLike, checkRank, checkSize } from './types.js';

function dims(what: string, xShape: readonly number[], wShape: readonly number[]): [number, number, number] {
  checkRank(`${what} input`, xShape, 2, '[N,in]');
  checkRank(`${what} weight`, wShape, 2, '[out,in]');
  const [n, fin] = xShape;
  const [fout, win] = wShape;
  if (win !== fin) throw new Error(`${what}: input [${xShape.join(',')}] and weight [${wShape.join(',')}] do not match`);
  return [n, fin, fout];
}

export function linearForward(
  x: FloatArray, xShape: readonly number[], w: FloatArray, wShape: readonly number[], b: FloatArray | null,
): FloatArray {
  const [n, fin, fout] = dims('linear', xShape, wShape);
  checkSize('linear input', x, xShape);
  checkSize('linear weight', w, wShape);
  if (b && b.length !== fout) throw new Error(`linear: bias holds ${b.length} values for ${fout} outputs`);
  const y = allocLike(x, n * fout);
  if (b) for (let i = 0; i < n; i++) y.set(b, i * fout);
  gemm(false, true, n, fout, fin, 1, x, 0, fin, w, 0, fin, b ? 1 : 0, y, 0, fout);
  return y;
}

export interface LinearGrads { dx: FloatArray; dw: FloatArray; db: FloatArray | null }

export function linearBackward(
  dy: FloatArray, x: FloatArray, xShape: readonly number[], w: FloatArray, wShape: readonly number[], hasBias: boolean,
): LinearGrads {
  const [n, fin, fout] = dims('linearBackward', xShape, wShape);
  checkSize('linearBackward dy', dy, [n, fout]);
  checkSize('linearBackward input', x, xShape);
  checkSize('linearBackward weight', w, wShape);
  const dx = allocLike(dy, n * fin);
  const dw = allocLike(dy, fout * fin);
  gemm(false, false, n, fin, fout, 1, dy, 0, fout, w, 0, fin, 0, dx, 0, fin);
  gemm(true, false, fout, fin, n, 1, dy, 0, fout, x, 0, fin, 0, dw, 0, fin);
  let db: FloatArray | null = null;
  if (hasBias) {
    const acc = new Float64Array(fout);
    for (let i = 0; i < n; i++) for (let j = 0; j < fout; j++) acc[j] += dy[i * fout + j];
    db = allocLike(dy, fout);
    db.set(acc);
  }
  return { dx, dw, db };
}
