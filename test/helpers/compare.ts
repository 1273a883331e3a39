/**
 * The largest |got − want| over two arrays, where it is, and the largest |want| (the scale a
 * tolerance is taken against): the comparison of recorded reference data in test/rl.
 */
export function maxErr(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
): { err: number; at: number; scale: number } {
  let err = 0;
  let at = -1;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs(got[i]! - want[i]!);
    if (e > err) [err, at] = [e, i];
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  return { err, at, scale };
}
