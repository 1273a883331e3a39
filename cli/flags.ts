/** Flag value parsing shared by the `proxima` commands: one clear message per bad value. */
export function parseIntFlag(flag: string, raw: string, min: number): number {
  const value = Number(raw);
  if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < min) {
    throw new Error(`${flag} must be an integer ≥ ${min}, got "${raw}"`);
  }
  return value;
}
