/**
 * Cache-blocked general matrix multiply over typed arrays (Goto/BLIS structure, one thread):
 *
 *   C = alpha * op(A) * op(B) + beta * C,   op(X) = X or X^T,   all matrices row-major with leading dimensions.
 *
 * op(B) is packed in KC x NC blocks and op(A) in MC x KC blocks into float64 panels (whatever the input
 * type, so the 4x4 register-tiled micro-kernel only ever sees one array type and V8 keeps it
 * monomorphic); sums over each KC block run in float64 registers before being added to C.
 */
import type { FloatArray } from './types.js';

const MR = 4;
const NR = 4;
const KC = 256;
const MC = 128;
const NC = 2048;

const packedA = new Float64Array(MC * KC);
const packedB = new Float64Array(KC * NC);
const edgeTile = new Float64Array(MR * NR);

/**
 * C[cOff + i*ldc + j] = alpha * sum_p opA(i,p) * opB(p,j) + beta * C[...], for i < M, j < N, p < K.
 * opA(i,p) = transA ? A[aOff + p*lda + i] : A[aOff + i*lda + p]; likewise opB(p,j) with transB.
 * beta = 0 overwrites C (its old contents, even NaN, are ignored), as in BLAS.
 */
export function gemm(
  transA: boolean, transB: boolean, M: number, N: number, K: number,
  alpha: number, A: FloatArray, aOff: number, lda: number,
  B: FloatArray, bOff: number, ldb: number,
  beta: number, C: FloatArray, cOff: number, ldc: number,
): void {
  if (M <= 0 || N <= 0) return;
  if (beta !== 1) {
    for (let i = 0; i < M; i++) {
      const row = cOff + i * ldc;
      if (beta === 0) C.fill(0, row, row + N);
      else for (let j = 0; j < N; j++) C[row + j] *= beta;
    }
  }
  if (K <= 0 || alpha === 0) return;
  for (let j0 = 0; j0 < N; j0 += NC) {
    const nc = Math.min(NC, N - j0);
    for (let p0 = 0; p0 < K; p0 += KC) {
      const kc = Math.min(KC, K - p0);
      packB(transB, B, bOff, ldb, p0, kc, j0, nc);
      for (let i0 = 0; i0 < M; i0 += MC) {
        const mc = Math.min(MC, M - i0);
        packA(transA, A, aOff, lda, i0, mc, p0, kc);
        for (let j = 0; j < nc; j += NR) {
          const nr = Math.min(NR, nc - j);
          for (let i = 0; i < mc; i += MR) {
            const mr = Math.min(MR, mc - i);
            kernel4x4(kc, packedA, i * kc, packedB, j * kc, alpha, C, cOff + (i0 + i) * ldc + j0 + j, ldc, mr, nr);
          }
        }
      }
    }
  }
}

/** Convenience: returns op(A)[M,K] * op(B)[K,N] as a new array of A's type. */
export function matmul(A: FloatArray, B: FloatArray, M: number, K: number, N: number, transA = false, transB = false): FloatArray {
  const C = A instanceof Float64Array ? new Float64Array(M * N) : new Float32Array(M * N);
  gemm(transA, transB, M, N, K, 1, A, 0, transA ? M : K, B, 0, transB ? K : N, 0, C, 0, N);
  return C;
}

/** Packs op(A)[i0:i0+mc, p0:p0+kc] as MR-row micro-panels, p-major inside each, zero-padded to MR rows. */
function packA(trans: boolean, A: FloatArray, off: number, lda: number, i0: number, mc: number, p0: number, kc: number): void {
  const Ap = packedA;
  let d = 0;
  for (let i = 0; i < mc; i += MR) {
    const rows = Math.min(MR, mc - i);
    if (trans) {
      // opA(i,p) = A[off + p*lda + i]: the MR values of one p are contiguous.
      let src = off + p0 * lda + i0 + i;
      if (rows === MR) {
        for (let p = 0; p < kc; p++, src += lda, d += MR) {
          Ap[d] = A[src]; Ap[d + 1] = A[src + 1]; Ap[d + 2] = A[src + 2]; Ap[d + 3] = A[src + 3];
        }
      } else {
        for (let p = 0; p < kc; p++, src += lda, d += MR) {
          for (let r = 0; r < MR; r++) Ap[d + r] = r < rows ? A[src + r] : 0;
        }
      }
    } else {
      const r0 = off + (i0 + i) * lda + p0;
      if (rows === MR) {
        const r1 = r0 + lda, r2 = r1 + lda, r3 = r2 + lda;
        for (let p = 0; p < kc; p++, d += MR) {
          Ap[d] = A[r0 + p]; Ap[d + 1] = A[r1 + p]; Ap[d + 2] = A[r2 + p]; Ap[d + 3] = A[r3 + p];
        }
      } else {
        for (let p = 0; p < kc; p++, d += MR) {
          for (let r = 0; r < MR; r++) Ap[d + r] = r < rows ? A[r0 + r * lda + p] : 0;
        }
      }
    }
  }
}

/** Packs op(B)[p0:p0+kc, j0:j0+nc] as NR-column micro-panels, p-major inside each, zero-padded to NR columns. */
function packB(trans: boolean, B: FloatArray, off: number, ldb: number, p0: number, kc: number, j0: number, nc: number): void {
  const Bp = packedB;
  let d = 0;
  for (let j = 0; j < nc; j += NR) {
    const cols = Math.min(NR, nc - j);
    if (!trans) {
      // opB(p,j) = B[off + p*ldb + j]: the NR values of one p are contiguous.
      let src = off + p0 * ldb + j0 + j;
      if (cols === NR) {
        for (let p = 0; p < kc; p++, src += ldb, d += NR) {
          Bp[d] = B[src]; Bp[d + 1] = B[src + 1]; Bp[d + 2] = B[src + 2]; Bp[d + 3] = B[src + 3];
        }
      } else {
        for (let p = 0; p < kc; p++, src += ldb, d += NR) {
          for (let c = 0; c < NR; c++) Bp[d + c] = c < cols ? B[src + c] : 0;
        }
      }
    } else {
      const r0 = off + (j0 + j) * ldb + p0;
      if (cols === NR) {
        const r1 = r0 + ldb, r2 = r1 + ldb, r3 = r2 + ldb;
        for (let p = 0; p < kc; p++, d += NR) {
          Bp[d] = B[r0 + p]; Bp[d + 1] = B[r1 + p]; Bp[d + 2] = B[r2 + p]; Bp[d + 3] = B[r3 + p];
        }
      } else {
        for (let p = 0; p < kc; p++, d += NR) {
          for (let c = 0; c < NR; c++) Bp[d + c] = c < cols ? B[r0 + c * ldb + p] : 0;
        }
      }
    }
  }
}

/** C[ci.., mr x nr] += alpha * (A panel)(B panel) over kc, with 16 float64 accumulators. */
function kernel4x4(
  kc: number, Ap: Float64Array, ia: number, Bp: Float64Array, ib: number,
  alpha: number, C: FloatArray, ci: number, ldc: number, mr: number, nr: number,
): void {
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
  let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
  let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
  let c30 = 0, c31 = 0, c32 = 0, c33 = 0;
  const end = ia + kc * MR;
  for (; ia < end; ia += MR, ib += NR) {
    const a0 = Ap[ia], a1 = Ap[ia + 1], a2 = Ap[ia + 2], a3 = Ap[ia + 3];
    const b0 = Bp[ib], b1 = Bp[ib + 1], b2 = Bp[ib + 2], b3 = Bp[ib + 3];
    c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
    c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
    c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
    c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
  }
  if (mr === MR && nr === NR) {
    C[ci] += alpha * c00; C[ci + 1] += alpha * c01; C[ci + 2] += alpha * c02; C[ci + 3] += alpha * c03; ci += ldc;
    C[ci] += alpha * c10; C[ci + 1] += alpha * c11; C[ci + 2] += alpha * c12; C[ci + 3] += alpha * c13; ci += ldc;
    C[ci] += alpha * c20; C[ci + 1] += alpha * c21; C[ci + 2] += alpha * c22; C[ci + 3] += alpha * c23; ci += ldc;
    C[ci] += alpha * c30; C[ci + 1] += alpha * c31; C[ci + 2] += alpha * c32; C[ci + 3] += alpha * c33;
    return;
  }
  const t = edgeTile;
  t[0] = c00; t[1] = c01; t[2] = c02; t[3] = c03;
  t[4] = c10; t[5] = c11; t[6] = c12; t[7] = c13;
  t[8] = c20; t[9] = c21; t[10] = c22; t[11] = c23;
  t[12] = c30; t[13] = c31; t[14] = c32; t[15] = c33;
  for (let r = 0; r < mr; r++) {
    for (let c = 0; c < nr; c++) C[ci + r * ldc + c] += alpha * t[r * NR + c];
  }
}
