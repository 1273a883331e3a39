import test from "ava";
import { Rng } from "../../rl/core/rng.ts";
import { nextGeneration, type PbtMember, perturb, quantileSize } from "../../sweeps/pbt.ts";
import type { SearchSpace } from "../../sweeps/space.ts";

const space: SearchSpace = {
  learningRate: { kind: "loguniform", low: 1e-4, high: 1e-2 },
  updateEpochs: { kind: "randint", low: 1, high: 11 },
  activation: { kind: "choice", values: ["tanh", "relu"] },
};

function member(i: number, value: number | null, iteration: number | null = 10): PbtMember {
  return {
    member: i,
    trialId: `trial-${i}`,
    runId: `run-${i}`,
    iteration,
    params: { learningRate: 1e-3 * (i + 1), updateEpochs: 4 + i, activation: "tanh" },
    value,
  };
}

test("the quantile is ⌈n·q⌉ capped at half the population", (t) => {
  t.is(quantileSize(4, 0.25), 1);
  t.is(quantileSize(8, 0.25), 2);
  t.is(quantileSize(3, 0.5), 1);
});

test("the bottom quantile copies a top-quantile member's checkpoint and hyperparameters, perturbed", (t) => {
  const members = [
    member(0, 100),
    member(1, 20),
    member(2, 300),
    member(3, 50),
    member(4, 10),
    member(5, 200),
    member(6, 90),
    member(7, 150),
  ];
  const next = nextGeneration(
    members,
    space,
    { quantile: 0.25, resampleProbability: 0.25, mode: "max" },
    new Rng(1),
  );
  // Ranked: m2 300, m5 200 | ... | m1 20, m4 10. Bottom two exploit the top two.
  const exploited = next.filter((n) => n.exploited).map((n) => n.member);
  t.deepEqual(exploited.sort(), [1, 4]);
  for (const n of next) {
    if (!n.exploited) {
      t.is(n.parentTrialId, `trial-${n.member}`);
      t.deepEqual(n.initFrom, { runId: `run-${n.member}`, iteration: 10 });
      t.deepEqual(n.params, members[n.member]!.params);
      continue;
    }
    t.true(["trial-2", "trial-5"].includes(n.parentTrialId));
    const source = members.find((m) => m.trialId === n.parentTrialId)!;
    t.deepEqual(n.initFrom, { runId: source.runId, iteration: 10 });
    t.deepEqual(Object.keys(n.perturbations).sort(), ["activation", "learningRate", "updateEpochs"]);
    for (const [key, p] of Object.entries(n.perturbations)) {
      t.deepEqual(p.from, source.params[key]);
      t.deepEqual(n.params[key], p.to);
    }
  }
});

test("explore multiplies by 0.8 or 1.2 or resamples, always within the distribution's bounds", (t) => {
  const rng = new Rng(5);
  const seen = new Set<string>();
  for (let i = 0; i < 500; i++) {
    const lr = perturb("learningRate", 9e-3, space, 0.25, rng);
    seen.add(lr.how);
    const v = lr.to as number;
    t.true(v >= 1e-4 && v <= 1e-2, `${v}`);
    if (lr.how === "×0.8") t.is(v, 9e-3 * 0.8);
    if (lr.how === "×1.2") t.is(v, 1e-2, "9e-3 × 1.2 is clamped to the upper bound");
    const ep = perturb("updateEpochs", 10, space, 0.25, rng).to as number;
    t.true(Number.isInteger(ep) && ep >= 1 && ep <= 10, `${ep}`);
    t.true(["tanh", "relu"].includes(perturb("activation", "tanh", space, 0.25, rng).to as string));
  }
  t.deepEqual([...seen].sort(), ["resample", "×0.8", "×1.2"]);
});

test("a member whose segment failed always exploits; mode min ranks the smallest first", (t) => {
  const members = [member(0, 5), member(1, 1), member(2, null, null), member(3, 3)];
  const next = nextGeneration(
    members,
    space,
    { quantile: 0.25, resampleProbability: 0, mode: "min" },
    new Rng(2),
  );
  const failed = next.find((n) => n.member === 2)!;
  t.true(failed.exploited);
  t.is(failed.parentTrialId, "trial-1");
  t.false(next.find((n) => n.member === 1)!.exploited);
});

test("the same results and seed give the same next generation", (t) => {
  const members = [member(0, 1), member(1, 2), member(2, 3), member(3, 4)];
  const o = { quantile: 0.5, resampleProbability: 0.5, mode: "max" as const };
  t.deepEqual(nextGeneration(members, space, o, new Rng(7)), nextGeneration(members, space, o, new Rng(7)));
});
