/**
 * Just enough of NumPy 2's scalar type promotion (NEP 50, https://numpy.org/neps/nep-0050-scalar-promotion.html)
 * to reproduce Gymnasium's arithmetic bit for bit where it mixes float32 and float64 values.
 *
 * Most classic-control envs compute in float64 throughout, so a plain JavaScript number is exact. Two
 * do not: MountainCarContinuous keeps its state as float32 and Pendulum multiplies a float32 action;
 * there NumPy rounds intermediate results to float32, and under NEP 50 a Python float operand is
 * "weak" — it is first cast to the other operand's float32 type. Comparisons follow the same rule:
 * `np.float32(0.45) >= 0.45` is True although 0.449999988079071 < 0.45 in float64.
 *
 * A value's kind orders as PY < F32 < F64 and a binary result takes the larger kind, which is
 * exactly NEP 50 for these three types.
 */

/** A Python float (weak: takes the other operand's type). */
export const PY = 0;
/** `np.float32`. */
export const F32 = 1;
/** `np.float64`. */
export const F64 = 2;
export type Kind = typeof PY | typeof F32 | typeof F64;

export function kindOf(a: Kind, b: Kind): Kind {
  return a > b ? a : b;
}

/** The value of `x` as an operand of an operation whose result kind is `k`. */
function operand(x: number, k: Kind): number {
  return k === F32 ? Math.fround(x) : x;
}

function result(x: number, k: Kind): number {
  return k === F32 ? Math.fround(x) : x;
}

export function add(a: number, ka: Kind, b: number, kb: Kind): number {
  const k = kindOf(ka, kb);
  return result(operand(a, k) + operand(b, k), k);
}

export function sub(a: number, ka: Kind, b: number, kb: Kind): number {
  const k = kindOf(ka, kb);
  return result(operand(a, k) - operand(b, k), k);
}

export function mul(a: number, ka: Kind, b: number, kb: Kind): number {
  const k = kindOf(ka, kb);
  return result(operand(a, k) * operand(b, k), k);
}

/** `a > b` as NumPy compares two scalars of these kinds. */
export function gt(a: number, ka: Kind, b: number, kb: Kind): boolean {
  const k = kindOf(ka, kb);
  return operand(a, k) > operand(b, k);
}

export function ge(a: number, ka: Kind, b: number, kb: Kind): boolean {
  const k = kindOf(ka, kb);
  return operand(a, k) >= operand(b, k);
}

export function eq(a: number, ka: Kind, b: number, kb: Kind): boolean {
  const k = kindOf(ka, kb);
  return operand(a, k) === operand(b, k);
}

/**
 * Python's float `%` (and NumPy's `remainder`): the result takes the sign of the divisor
 * (CPython `float_rem`: fmod, then add the divisor when the signs differ). JavaScript's `%` is fmod,
 * whose result takes the sign of the dividend.
 */
export function pyMod(a: number, b: number): number {
  let m = a % b;
  if (m !== 0) {
    if (b < 0 !== m < 0) m += b;
  } else {
    m = b < 0 ? -0 : 0;
  }
  return m;
}
