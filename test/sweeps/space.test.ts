import test from "ava";
import { Rng } from "../../rl/core/rng.ts";
import { parseSweepDefinition } from "../../sweeps/definition.ts";
import { expandGrid, sample } from "../../sweeps/space.ts";
import { expandTrials } from "../../sweeps/trials.ts";

test("a grid expands to exactly the cartesian product, last key fastest, once per seed", (t) => {
  const def = parseSweepDefinition({
    name: "g",
    env: "CartPole-v1",
    totalSteps: 100_000,
    maxTrials: 12,
    seeds: [1, 2],
    searchSpace: { learningRate: { values: [1e-4, 1e-3] }, clipCoef: { values: [0.1, 0.2, 0.3] } },
  });
  const trials = expandTrials(def);
  t.deepEqual(
    trials.map((x) => [x.params["learningRate"], x.params["clipCoef"], x.seed]),
    [
      [1e-4, 0.1, 1],
      [1e-4, 0.1, 2],
      [1e-4, 0.2, 1],
      [1e-4, 0.2, 2],
      [1e-4, 0.3, 1],
      [1e-4, 0.3, 2],
      [1e-3, 0.1, 1],
      [1e-3, 0.1, 2],
      [1e-3, 0.2, 1],
      [1e-3, 0.2, 2],
      [1e-3, 0.3, 1],
      [1e-3, 0.3, 2],
    ],
  );
  t.deepEqual(
    trials.map((x) => x.index),
    [...Array(12).keys()],
  );
  t.true(trials.every((x) => x.totalSteps === 100_000));
});

test("a grid mixed with a distribution draws that parameter once per grid point", (t) => {
  const points = expandGrid(
    { clipCoef: { kind: "values", values: [0.1, 0.2] }, gamma: { kind: "uniform", low: 0.9, high: 0.99 } },
    new Rng(3),
  );
  t.deepEqual(
    points.map((p) => p["clipCoef"]),
    [0.1, 0.2],
  );
  t.true(points.every((p) => (p["gamma"] as number) >= 0.9 && (p["gamma"] as number) < 0.99));
  t.not(points[0]!["gamma"], points[1]!["gamma"]);
});

const randomDef = (seed: number) =>
  parseSweepDefinition({
    name: "r",
    env: "CartPole-v1",
    totalSteps: 100_000,
    method: "random",
    maxTrials: 10,
    seed,
    searchSpace: {
      learningRate: { loguniform: [1e-5, 1e-2] },
      clipCoef: { uniform: [0.1, 0.3] },
      updateEpochs: { randint: [1, 11] },
      gaeLambda: { quniform: [0.8, 1.0, 0.05] },
      activation: { choice: ["tanh", "relu"] },
      numMinibatches: { values: [1, 2, 4] },
    },
  });

test("random search with a fixed sampler seed draws the same trials; another seed draws others", (t) => {
  const a = expandTrials(randomDef(42));
  t.is(a.length, 10);
  t.deepEqual(expandTrials(randomDef(42)), a);
  t.notDeepEqual(expandTrials(randomDef(43)), a);
});

test("every distribution draws inside its bounds with its own shape", (t) => {
  const rng = new Rng(9);
  for (let i = 0; i < 2000; i++) {
    const lu = sample({ kind: "loguniform", low: 1e-5, high: 1e-2 }, rng) as number;
    t.true(lu >= 1e-5 && lu < 1e-2);
    const u = sample({ kind: "uniform", low: -1, high: 1 }, rng) as number;
    t.true(u >= -1 && u < 1);
    const ri = sample({ kind: "randint", low: 1, high: 4 }, rng) as number;
    t.true([1, 2, 3].includes(ri));
    const q = sample({ kind: "quniform", low: 0.8, high: 1, q: 0.05 }, rng) as number;
    t.true([0.8, 0.85, 0.9, 0.95, 1].includes(q), String(q));
    t.true(["a", "b"].includes(sample({ kind: "choice", values: ["a", "b"] }, rng) as string));
  }
  // loguniform spreads over decades: about a third of the draws in each of the three.
  const draws = Array.from(
    { length: 3000 },
    () => sample({ kind: "loguniform", low: 1e-5, high: 1e-2 }, rng) as number,
  );
  const lowDecade = draws.filter((x) => x < 1e-4).length;
  t.true(lowDecade > 800 && lowDecade < 1200, String(lowDecade));
});
