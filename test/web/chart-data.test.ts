import test from "ava";
import {
  alignSeries,
  forLogScale,
  formatDuration,
  isLogSampled,
  lastIndex,
  longCsv,
  metricKeys,
  nearestIndex,
  smoothEma,
  tickLabels,
  xValues,
} from "../../web/src/chart-data.ts";

/** The charts' arithmetic (web/src/chart-data.ts), without a browser. */

test("smoothing is TensorBoard's debiased EMA: worked by hand for [1, 2, 3] at weight 0.5", (t) => {
  const [a, b, c] = smoothEma([1, 2, 3], 0.5) as number[];
  // last: 0.5, 1.25, 2.125; debiased by 1 − 0.5ⁿ: 0.5, 0.75, 0.875.
  t.is(a, 1);
  t.true(Math.abs(b! - 1.25 / 0.75) < 1e-12);
  t.true(Math.abs(c! - 2.125 / 0.875) < 1e-12);
});

test("the debiased EMA is the mean of the values so far weighted by wⁿ⁻ⁱ", (t) => {
  const values = [3, -1, 4, 1, -5, 9, 2, 6, 5, 3];
  for (const w of [0.1, 0.6, 0.9, 0.99]) {
    const smoothed = smoothEma(values, w);
    values.forEach((_, n) => {
      let num = 0;
      let den = 0;
      for (let i = 0; i <= n; i++) {
        num += w ** (n - i) * values[i]!;
        den += w ** (n - i);
      }
      t.true(Math.abs(smoothed[n]! - num / den) < 1e-9, `w=${w} n=${n}`);
    });
  }
});

test("smoothing keeps gaps, leaves weight 0 and constant series alone, and starts at the first value", (t) => {
  const smoothed = smoothEma([null, 10, null, 20], 0.5);
  t.is(smoothed[0], null);
  t.is(smoothed[1], 10, "debiased: the first value is itself, not half of it");
  t.is(smoothed[2], null);
  // Two values seen: (0.5·10·0.5 + 0.5·20) / (1 − 0.25).
  t.true(Math.abs(smoothed[3]! - (2.5 + 10) / 0.75) < 1e-12);
  t.deepEqual(smoothEma([1, 5, 2], 0), [1, 5, 2]);
  t.deepEqual(smoothEma([0.1, 0.1, 0.1], 0.9), [0.1, 0.1, 0.1]);
});

test("runs are aligned on the union of their x values, null where a run has no point", (t) => {
  const { xs, ys, rows } = alignSeries([
    { x: [0, 10, 20], y: [1, 2, 3] },
    { x: [5, 10, 10], y: [7, 8, 9] },
    { x: [Number.NaN], y: [4] },
  ]);
  t.deepEqual(xs, [0, 5, 10, 20]);
  t.deepEqual(ys[0], [1, null, 2, 3]);
  t.deepEqual(ys[1], [null, 7, 9, null], "a repeated x keeps the later point");
  t.deepEqual(ys[2], [null, null, null, null], "a point without a finite x is left out");
  t.deepEqual(rows, [[0, 2, 3], [1, 2, 2], [-1]]);
  // A scatter keeps every point, two trials with the same value included.
  const scatter = alignSeries(
    [
      { x: [0.2, 0.1, 0.1], y: [1, 2, 3] },
      { x: [0.1], y: [4] },
    ],
    true,
  );
  t.deepEqual(scatter.xs, [0.1, 0.1, 0.1, 0.2]);
  t.deepEqual(scatter.ys, [
    [2, 3, null, 1],
    [null, null, 4, null],
  ]);
  t.deepEqual(scatter.rows, [[3, 0, 1], [2]]);
});

test("x as env steps, wall-clock seconds, or seconds since the run's first point", (t) => {
  const points = [
    { iteration: 1, globalStep: 128, wallTime: "2026-01-01T00:00:10.000Z", metrics: {} },
    { iteration: 2, globalStep: 256, wallTime: "2026-01-01T00:01:10.500Z", metrics: {} },
  ];
  t.deepEqual(xValues(points, "step"), [128, 256]);
  const t0 = Date.parse("2026-01-01T00:00:10.000Z") / 1000;
  t.deepEqual(xValues(points, "wall"), [t0, t0 + 60.5]);
  t.deepEqual(xValues(points, "relative"), [0, 60.5]);
});

test("a log axis leaves out values at or below 0 and counts them", (t) => {
  t.deepEqual(forLogScale([1, 0, -2, null, 0.5]), { values: [1, null, null, null, 0.5], hidden: 2 });
});

test("the hover read-out takes each series' nearest point; with no hover, its latest", (t) => {
  const ys = [null, 1, null, null, 4, null];
  t.is(nearestIndex(ys, 2), 1);
  t.is(nearestIndex(ys, 3), 4);
  t.is(nearestIndex(ys, 5), 4);
  t.is(nearestIndex([null, null], 0), null);
  t.is(lastIndex(ys), 4);
  t.is(lastIndex([]), null);
});

test("the long CSV has one row per run, point and key, values exactly as the API gave them", (t) => {
  const csv = longCsv([
    {
      run: "run-b",
      points: [
        { iteration: 2, globalStep: 256, metrics: { "losses/value_loss": 0.1 + 0.2, "charts/SPS": null } },
        { iteration: 1, globalStep: 128, metrics: { "losses/value_loss": 1e-7, "a,b": -3 } },
      ],
    },
    { run: 'odd"name', points: [{ iteration: 1, globalStep: 64, metrics: { x: 5 } }] },
  ]);
  t.is(
    csv,
    [
      "run,step,key,value",
      'run-b,128,"a,b",-3',
      "run-b,128,losses/value_loss,1e-7",
      "run-b,256,losses/value_loss,0.30000000000000004",
      '"odd""name",64,x,5',
      "",
    ].join("\r\n"),
  );
  t.deepEqual(
    metricKeys([
      [{ iteration: 1, globalStep: 1, metrics: { b: 1, a: null } }],
      [{ iteration: 1, globalStep: 1, metrics: { c: 2 } }],
    ]),
    ["a", "b", "c"],
  );
});

test("durations read as a person writes them; loguniform parameters are log-sampled", (t) => {
  t.deepEqual([45, 90, 5400, 2 * 86_400].map(formatDuration), ["45s", "1.5m", "1.5h", "2d"]);
  t.true(isLogSampled({ loguniform: [1e-5, 1e-2] }));
  t.true(isLogSampled({ kind: "loguniform", low: 1e-5, high: 1e-2 }));
  t.false(isLogSampled({ values: [1e-3, 3e-4] }));
  t.false(isLogSampled(null));
});

test("tick labels carry the decimals of the tick step, so close ticks never read the same", (t) => {
  t.deepEqual(tickLabels([0.7928, 0.793, 0.7932]), ["0.7928", "0.7930", "0.7932"]);
  t.deepEqual(tickLabels([25, 27.5, 30]), ["25.0", "27.5", "30.0"]);
  t.deepEqual(tickLabels([0, 50_000, 100_000]), ["0", "50k", "100k"]);
  t.deepEqual(tickLabels([-2e-6, 0, 2e-6]), ["-2e-6", "0", "2e-6"]);
  t.deepEqual(tickLabels([1.2e-5, 1.4e-5]), ["1.2e-5", "1.4e-5"]);
});
