/**
 * How often rl/core/numpy-random.ts's `standardNormal` and NumPy's `standard_normal` differ, on a
 * sample too large to commit, and how often V8's Math.exp / Math.log1p differ from glibc's exp /
 * log1p (which NumPy's ziggurat calls) on the arguments the ziggurat gives them. Reads what
 * `record_numpy_random.py --dump N PREFIX` wrote:
 *
 *   .venv-ref/bin/python scripts/reference/record_numpy_random.py --dump 10000000 /tmp/sn
 *   npx tsx scripts/reference/numpy-normal-agreement.ts /tmp/sn
 */
import { readFileSync } from "node:fs";
import { NumpyGenerator } from "../../rl/core/numpy-random.ts";
import { ZIGGURAT_NOR_INV_R, ZIGGURAT_NOR_R } from "../../rl/core/ziggurat-tables.ts";

function float64s(path: string): Float64Array {
  const bytes = readFileSync(path);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float64Array(bytes.byteLength / 8);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat64(i * 8, true);
  return out;
}

/** Distance in units in the last place between two finite float64s of the same sign. */
function ulps(a: number, b: number): number {
  const bits = new BigInt64Array(Float64Array.of(a, b).buffer);
  const d = bits[0] - bits[1];
  return Number(d < 0n ? -d : d);
}

function compareDraws(prefix: string, seed: number): string {
  const numpy = float64s(`${prefix}.normal.f8`);
  const ours = new NumpyGenerator(seed).standardNormalFill(new Float64Array(numpy.length));
  let equal = 0;
  let firstDiff = -1;
  let tail = 0;
  for (let i = 0; i < numpy.length; i++) {
    if (Object.is(ours[i], numpy[i])) equal++;
    else if (firstDiff < 0) firstDiff = i;
    if (Math.abs(numpy[i]) > ZIGGURAT_NOR_R) tail++;
  }
  const where = firstDiff < 0 ? "" : `, first difference at draw ${firstDiff}`;
  return (
    `standard_normal, seed ${seed}: ${equal}/${numpy.length} draws bit-equal` +
    ` (${((100 * equal) / numpy.length).toFixed(6)}%)${where}; ${tail} tail draws (|x| > r)`
  );
}

/** The tail's draw from log1p(-u), as `random_standard_normal` forms it: r + (−(1/r) · log1p(−u)). */
function tailDraw(log1pValue: number): number {
  return ZIGGURAT_NOR_R + -ZIGGURAT_NOR_INV_R * log1pValue;
}

function compareLibm(prefix: string, name: "exp" | "log1p", fn: (x: number) => number): string {
  const pairs = float64s(`${prefix}.${name}.f8`);
  const n = pairs.length / 2;
  let differ = 0;
  let maxUlps = 0;
  let tailDiffers = 0;
  for (let i = 0; i < n; i++) {
    const ours = fn(pairs[2 * i]);
    const glibc = pairs[2 * i + 1];
    if (Object.is(ours, glibc)) continue;
    differ++;
    maxUlps = Math.max(maxUlps, ulps(ours, glibc));
    if (!Object.is(tailDraw(ours), tailDraw(glibc))) tailDiffers++;
  }
  const pct = (k: number) => `${((100 * k) / n).toFixed(4)}%`;
  const tail =
    name === "log1p" ? `; the tail draw built from it differs for ${tailDiffers} (${pct(tailDiffers)})` : "";
  return `Math.${name} vs glibc ${name}: ${differ}/${n} arguments differ (${pct(differ)}), at most ${maxUlps} ulp${tail}`;
}

function main(): void {
  const prefix = process.argv[2];
  if (!prefix) throw new Error("usage: tsx scripts/reference/numpy-normal-agreement.ts <dump prefix>");
  const meta = JSON.parse(readFileSync(`${prefix}.json`, "utf8")) as { seed: number; numpy: string };
  console.log(`NumPy ${meta.numpy}`);
  console.log(compareDraws(prefix, meta.seed));
  console.log(compareLibm(prefix, "exp", Math.exp));
  console.log(compareLibm(prefix, "log1p", Math.log1p));
}

main();
