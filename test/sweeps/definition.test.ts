import test from "ava";
import { parseSweepDefinition, parseSweepYaml, SweepDefinitionError } from "../../sweeps/definition.ts";
import { expandTrials } from "../../sweeps/trials.ts";

const base = {
  name: "lr × clip",
  env: "CartPole-v1",
  preset: "zoo",
  totalSteps: 20_480,
  maxTrials: 8,
  maxConcurrent: 2,
  searchSpace: {
    learningRate: { values: [3e-4, 1e-3] },
    clipCoef: { values: [0.1, 0.2, 0.3] },
  },
};

function fields(raw: unknown): string[] {
  try {
    expandTrials(parseSweepDefinition(raw));
  } catch (err) {
    if (err instanceof SweepDefinitionError) return err.issues.map((i) => i.field);
    throw err;
  }
  return [];
}

test("defaults: grid method, the episodic return maximised, seed 0 and one run seed", (t) => {
  const d = parseSweepDefinition(base);
  t.is(d.method, "grid");
  t.is(d.metric, "charts/episodic_return");
  t.is(d.mode, "max");
  t.is(d.seed, 0);
  t.deepEqual(d.seeds, [1]);
  t.deepEqual(d.searchSpace["learningRate"], { kind: "values", values: [3e-4, 1e-3] });
});

test("an unknown hyperparameter is named by its key", (t) => {
  t.deepEqual(fields({ ...base, searchSpace: { learningRat: { values: [1] } } }), [
    "searchSpace.learningRat",
  ]);
});

test("an empty space, an empty value list and an unknown distribution are named", (t) => {
  t.deepEqual(fields({ ...base, searchSpace: {} }), ["searchSpace"]);
  t.deepEqual(fields({ ...base, searchSpace: { clipCoef: { values: [] } } }), [
    "searchSpace.clipCoef.values",
  ]);
  t.deepEqual(fields({ ...base, searchSpace: { clipCoef: { normal: [0, 1] } } }), [
    "searchSpace.clipCoef.normal",
  ]);
  t.deepEqual(fields({ ...base, searchSpace: { clipCoef: { uniform: [0.1, 0.2], choice: [1] } } }), [
    "searchSpace.clipCoef",
  ]);
});

test("reversed bounds are named for every numeric distribution", (t) => {
  for (const [kind, arg] of [
    ["uniform", [0.3, 0.1]],
    ["loguniform", [1e-3, 1e-4]],
    ["quniform", [0.3, 0.1, 0.05]],
    ["randint", [4, 4]],
  ] as const) {
    t.deepEqual(
      fields({ ...base, method: "random", searchSpace: { updateEpochs: { [kind]: arg } } }),
      [`searchSpace.updateEpochs.${kind}`],
      kind,
    );
  }
});

test("a grid larger than maxTrials names maxTrials", (t) => {
  t.deepEqual(fields({ ...base, maxTrials: 5 }), ["maxTrials"]);
  t.deepEqual(fields({ ...base, maxTrials: 12, seeds: [1, 2, 3] }), ["maxTrials"]);
});

test("a value outside the hyperparameter's own bounds is named by the search-space key", (t) => {
  t.deepEqual(fields({ ...base, searchSpace: { clipCoef: { values: [0.2, -1] } } }), [
    "searchSpace.clipCoef",
  ]);
  t.deepEqual(fields({ ...base, method: "random", searchSpace: { gamma: { uniform: [0.9, 1.5] } } }), [
    "searchSpace.gamma",
  ]);
  t.deepEqual(fields({ ...base, hyperparameters: { gamma: 2 } }), ["hyperparameters.gamma"]);
});

test("unknown top-level keys and a PBT sweep that changes the network are named", (t) => {
  t.deepEqual(fields({ ...base, maxTrails: 3 }), ["maxTrails"]);
  t.deepEqual(
    fields({
      ...base,
      method: "pbt",
      pbt: { perturbationInterval: 4096 },
      searchSpace: { hiddenSizes: { choice: [[32], [64]] } },
    }),
    ["searchSpace.hiddenSizes"],
  );
  t.deepEqual(fields({ ...base, method: "pbt" }), ["pbt"]);
});

test("YAML and JSON forms of one definition give the same trials", (t) => {
  const yaml = `
name: lr × clip
env: CartPole-v1
preset: zoo
totalSteps: 20480
maxTrials: 8
maxConcurrent: 2
searchSpace:
  learningRate: { values: [3.0e-4, 1.0e-3] }
  clipCoef:
    values: [0.1, 0.2, 0.3]
`;
  t.deepEqual(expandTrials(parseSweepYaml(yaml)), expandTrials(parseSweepDefinition(base)));
  const bad = t.throws(() => parseSweepYaml("name: [unclosed"), { instanceOf: SweepDefinitionError });
  t.is(bad?.issues[0]?.field, "(yaml)");
});

test("the example sweep file is a valid definition of 8 trials with ASHA", async (t) => {
  const { readFile } = await import("node:fs/promises");
  const text = await readFile(new URL("../../examples/sweep-cartpole.yaml", import.meta.url), "utf8");
  const def = parseSweepYaml(text);
  t.is(expandTrials(def).length, 8);
  t.like(def.earlyStopping, { type: "asha", gracePeriod: 25_000, reductionFactor: 2 });
});
