/**
 * Orthogonal weight initialisation (Saxe, McClelland & Ganguli, "Exact solutions to the nonlinear
 * dynamics of learning in deep linear neural networks", ICLR 2014), drawn from our seeded Rng so
 * that the same seed gives the same network on any machine.
 *
 * It follows `torch.nn.init.orthogonal_` (used by CleanRL's `layer_init`): a Gaussian matrix of the
 * weight's (out, in) shape, transposed when it is wide, is orthonormalised by QR with the signs of
 * R's diagonal made positive — which is exactly what Gram-Schmidt on its columns gives — then scaled
 * by `gain`.
 */
import type { Rng } from "../core/rng.ts";

/**
 * Fills `out` (row-major [inDim, outDim], the tfjs dense-kernel layout) with an orthogonal matrix
 * times `gain`: rows (or columns, whichever are fewer) are orthonormal.
 */
export function orthogonalInit(
  rng: Rng,
  inDim: number,
  outDim: number,
  gain: number,
  out: Float32Array,
): void {
  // PyTorch draws the (rows=out, cols=in) matrix row-major; we do the same so the draw order is fixed.
  const rows = outDim;
  const cols = inDim;
  const g = new Float64Array(rows * cols);
  for (let i = 0; i < g.length; i++) g[i] = rng.normal();
  // QR of the tall matrix: (rows × cols) if rows ≥ cols, else its transpose (cols × rows).
  const tall = rows >= cols;
  const m = tall ? rows : cols;
  const n = tall ? cols : rows;
  // q holds the tall matrix column-major: column j is q[j*m .. j*m+m).
  const q = new Float64Array(m * n);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = g[r * cols + c];
      if (tall) q[c * m + r] = v;
      else q[r * m + c] = v;
    }
  }
  gramSchmidt(q, m, n);
  // Back to the weight's (out, in) orientation, then store transposed as [in, out].
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = tall ? q[c * m + r] : q[r * m + c];
      out[c * outDim + r] = gain * v;
    }
  }
}

/** Modified Gram-Schmidt (numerically stabler than the classical one) on n column-major columns of length m. */
function gramSchmidt(q: Float64Array, m: number, n: number): void {
  for (let j = 0; j < n; j++) {
    const cj = j * m;
    for (let k = 0; k < j; k++) {
      const ck = k * m;
      let dot = 0;
      for (let i = 0; i < m; i++) dot += q[ck + i] * q[cj + i];
      for (let i = 0; i < m; i++) q[cj + i] -= dot * q[ck + i];
    }
    let norm = 0;
    for (let i = 0; i < m; i++) norm += q[cj + i] * q[cj + i];
    norm = Math.sqrt(norm);
    if (norm === 0) throw new Error("orthogonalInit: degenerate Gaussian draw");
    for (let i = 0; i < m; i++) q[cj + i] /= norm;
  }
}
