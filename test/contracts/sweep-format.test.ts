import test from "ava";
import { formatParam, formatParams, prunedReason, significant } from "../../contracts/sweep-format.ts";

/** A sweep's numbers and ASHA's decisions as the dashboard and the CLI write them. */
const plain = (x: number | null) => (x === null ? "–" : String(x));

test("drawn values print to 4 significant digits; integers and strings as they are", (t) => {
  t.is(significant(0.00023456789012345), "0.0002346");
  t.is(significant(Math.PI), "3.142");
  t.is(significant(1.5e-7), "1.5e-7");
  t.is(significant(2048), "2048");
  t.is(formatParam(0.123456789), "0.1235");
  t.is(formatParam([64, 64]), "[64, 64]");
  t.is(formatParam("tanh"), "tanh");
  t.is(formatParam(true), "true");
  t.is(
    formatParams({ learningRate: 0.000301234567, numMinibatches: 4 }),
    "learningRate=0.0003012, numMinibatches=4",
  );
});

test("a trial that ties the cut is described as a tie, by arrival; a miss by the mode's order", (t) => {
  t.is(
    prunedReason({ rung: 10_000, value: 500, cutoff: 500 }, "max", plain),
    "tied with the cut at 500, later arrival: ASHA keeps the first ⌈n/η⌉ to reach the rung",
  );
  t.is(prunedReason({ rung: 10_000, value: 120, cutoff: 480 }, "max", plain), "120 < cut 480");
  t.is(prunedReason({ rung: 10_000, value: 3.5, cutoff: 1.25 }, "min", plain), "3.5 > cut 1.25");
  t.regex(
    prunedReason({ rung: 10_000, value: null, cutoff: 20 }, "max", plain),
    /^no result at the rung yet/,
  );
});
