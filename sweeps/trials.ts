/**
 * From a validated definition to the list of trials to run. A trial is one run: one configuration
 * with one seed. The list depends only on the definition (the sampler seed included), so the same
 * definition always gives the same trials, and a re-activated sweep can recompute what it expects.
 */
import { Rng } from "../rl/core/rng.ts";
import { HyperparameterError, type PresetName, resolveHyperparameters } from "../rl/ppo/hyperparameters.ts";
import { type SweepDefinition, SweepDefinitionError } from "./definition.ts";
import { boundsOf, drawRandom, expandGrid, gridSize, type Params } from "./space.ts";

export interface TrialSpec {
  /** Position in the sweep, 0-based; unique per sweep (the database keys trials on it). */
  index: number;
  /** The searched hyperparameters only (the fixed ones are the definition's). */
  params: Params;
  seed: number;
  /** Env steps this trial's run trains to (cumulative for PBT segments). */
  totalSteps: number;
  /** PBT only: the population slot and the generation (segment) number. */
  member?: number;
  generation?: number;
}

/** The trials of a grid or random sweep, or PBT's first generation. */
export function expandTrials(def: SweepDefinition): TrialSpec[] {
  const rng = new Rng(def.seed);
  let configs: Params[];
  if (def.method === "grid") {
    const points = gridSize(def.searchSpace) * def.seeds.length;
    if (points > def.maxTrials) {
      throw new SweepDefinitionError([
        {
          field: "maxTrials",
          message: `the grid has ${points} trials (${gridSize(def.searchSpace)} points × ${def.seeds.length} seeds), more than maxTrials ${def.maxTrials}`,
        },
      ]);
    }
    configs = expandGrid(def.searchSpace, rng);
  } else if (def.method === "random") {
    const n = Math.floor(def.maxTrials / def.seeds.length);
    if (n < 1) {
      throw new SweepDefinitionError([
        { field: "maxTrials", message: `must be at least the number of seeds (${def.seeds.length})` },
      ]);
    }
    configs = drawRandom(def.searchSpace, n, rng);
  } else {
    configs = drawRandom(def.searchSpace, def.maxTrials, rng);
  }
  const firstSegment = def.pbt ? Math.min(def.pbt.perturbationInterval, def.totalSteps) : def.totalSteps;
  const trials: TrialSpec[] = [];
  for (const params of configs) {
    for (const seed of def.seeds) {
      const t: TrialSpec = { index: trials.length, params, seed, totalSteps: firstSegment };
      if (def.method === "pbt") Object.assign(t, { member: trials.length, generation: 0 });
      trials.push(t);
    }
  }
  checkConfigs(def, trials);
  return trials;
}

/** The hyperparameters one trial's run is created with: the fixed overrides, then the searched ones. */
export function trialHyperparameters(def: SweepDefinition, params: Params): Record<string, unknown> {
  const h: Record<string, unknown> = { ...def.hyperparameters, ...params };
  // PBT schedules the learning rate itself (by its perturbations); an annealed rate would restart at
  // each segment, since a segment is a run of its own.
  if (def.method === "pbt") Object.assign(h, { annealLr: false, annealClip: false });
  return h;
}

/**
 * Every trial's configuration, and every numeric distribution's bounds, must be a valid PPO
 * configuration for the env and preset: a bad value is reported under the key it came from.
 */
function checkConfigs(def: SweepDefinition, trials: readonly TrialSpec[]): void {
  const candidates = trials.map((t) => ({ params: t.params, totalSteps: t.totalSteps }));
  const first = trials[0];
  for (const [key, d] of Object.entries(def.searchSpace)) {
    const b = boundsOf(d);
    if (b && first) {
      for (const bound of [b.low, b.high])
        candidates.push({ params: { ...first.params, [key]: bound }, totalSteps: first.totalSteps });
    }
  }
  const steps = def.method === "pbt" ? "pbt.perturbationInterval" : "totalSteps";
  const issues = new Map<string, string>();
  for (const { params, totalSteps } of candidates) {
    try {
      resolveHyperparameters(def.env, def.preset as PresetName, {
        ...trialHyperparameters(def, params),
        totalTimesteps: totalSteps,
      });
    } catch (err) {
      if (!(err instanceof HyperparameterError)) throw err;
      for (const i of err.issues) {
        const top = i.field.split(".")[0]!;
        const field =
          top === "totalTimesteps"
            ? steps
            : top in def.searchSpace
              ? `searchSpace.${top}`
              : top === "preset"
                ? "preset"
                : `hyperparameters.${i.field}`;
        if (!issues.has(field)) issues.set(field, i.message);
      }
    }
  }
  if (issues.size > 0)
    throw new SweepDefinitionError([...issues].map(([field, message]) => ({ field, message })));
}
