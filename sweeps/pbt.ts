/**
 * Population-based training: Jaderberg, Dalibard, Osindero, Czarnecki, Donahue, Razavi, Vinyals,
 * Green, Dunning, Simonyan, Fernando, Kavukcuoglu, "Population Based Training of Neural Networks",
 * arXiv:1711.09846 (2017).
 *
 * Every `perturbationInterval` env steps the population is ranked by the metric. Exploit is
 * truncation selection (§3.1, §4.1): a member in the bottom quantile copies the weights and optimizer
 * state (its checkpoint) and the hyperparameters of a member drawn uniformly from the top quantile.
 * Explore perturbs the copied hyperparameters: each is resampled from its distribution with
 * probability `resampleProbability`, otherwise multiplied by 0.8 or 1.2 (§4.1's "perturb"), kept
 * within the distribution's bounds; a categorical one moves to a neighbouring value, as Ray Tune's
 * PopulationBasedTraining does. Members outside the bottom quantile continue from their own
 * checkpoint unchanged.
 *
 * This is the synchronous variant: a generation's members all finish their segment before the next
 * generation is decided, so that the decision is a function of stored results (a re-activated sweep
 * decides the same). The quantile size is Ray's, ⌈n·q⌉ capped at ⌊n/2⌋.
 */
import type { Rng } from "../rl/core/rng.ts";
import { better, type Mode } from "./asha.ts";
import { boundsOf, type Params, type SearchSpace, sample } from "./space.ts";

export interface PbtMember {
  member: number;
  /** The trial whose segment just ended, and what the next segment may start from. */
  trialId: string;
  runId: string;
  /** The iteration of the checkpoint the segment ended with; null when the segment failed. */
  iteration: number | null;
  params: Params;
  value: number | null;
}

export interface PbtOptions {
  quantile: number;
  resampleProbability: number;
  mode: Mode;
}

export interface Perturbation {
  from: unknown;
  to: unknown;
  how: "resample" | "×0.8" | "×1.2" | "shift";
}

export interface PbtNext {
  member: number;
  params: Params;
  /** The trial whose checkpoint the next segment starts from (itself when not exploited). */
  parentTrialId: string;
  initFrom: { runId: string; iteration: number };
  exploited: boolean;
  perturbations: Record<string, Perturbation>;
}

export function quantileSize(n: number, q: number): number {
  return Math.min(Math.ceil(n * q), Math.floor(n / 2));
}

/** One hyperparameter's explore step. */
export function perturb(
  key: string,
  value: unknown,
  space: SearchSpace,
  resampleProbability: number,
  rng: Rng,
): Perturbation {
  const d = space[key]!;
  if (rng.uniform() < resampleProbability) return { from: value, to: sample(d, rng), how: "resample" };
  const up = rng.uniform() < 0.5;
  const b = boundsOf(d);
  if (!b) {
    const values = (d as { values: unknown[] }).values;
    const at = Math.max(
      0,
      values.findIndex((v) => JSON.stringify(v) === JSON.stringify(value)),
    );
    const to = values[Math.min(values.length - 1, Math.max(0, at + (up ? 1 : -1)))];
    return { from: value, to, how: "shift" };
  }
  let to = (value as number) * (up ? 1.2 : 0.8);
  if (b.integer) to = Math.round(to);
  to = Math.min(b.high, Math.max(b.low, to));
  return { from: value, to, how: up ? "×1.2" : "×0.8" };
}

/**
 * The next generation from the ranked results of the last. Members whose segment failed (no
 * checkpoint) count as the worst and always exploit.
 */
export function nextGeneration(
  members: readonly PbtMember[],
  space: SearchSpace,
  o: PbtOptions,
  rng: Rng,
): PbtNext[] {
  const usable = members.filter((m) => m.iteration !== null);
  if (usable.length === 0) throw new Error("no member of the generation has a checkpoint");
  // Best first; ties keep the member order, so the ranking is a function of the results alone.
  const ranked = [...members].sort((a, b) => {
    if (a.iteration === null || b.iteration === null)
      return (a.iteration === null ? 1 : 0) - (b.iteration === null ? 1 : 0);
    return better(a.value, b.value, o.mode) ? -1 : better(b.value, a.value, o.mode) ? 1 : a.member - b.member;
  });
  const k = Math.max(1, quantileSize(members.length, o.quantile));
  const top = ranked.filter((m) => m.iteration !== null).slice(0, k);
  const bottom = new Set(ranked.slice(-k).map((m) => m.member));
  for (const m of members) if (m.iteration === null) bottom.add(m.member);
  return members.map((m): PbtNext => {
    if (!bottom.has(m.member) || top.some((t) => t.member === m.member)) {
      return {
        member: m.member,
        params: m.params,
        parentTrialId: m.trialId,
        initFrom: { runId: m.runId, iteration: m.iteration! },
        exploited: false,
        perturbations: {},
      };
    }
    const source = top[rng.int(top.length)]!;
    const params: Params = { ...source.params };
    const perturbations: Record<string, Perturbation> = {};
    for (const key of Object.keys(space)) {
      const p = perturb(key, params[key], space, o.resampleProbability, rng);
      params[key] = p.to;
      perturbations[key] = p;
    }
    return {
      member: m.member,
      params,
      parentTrialId: source.trialId,
      initFrom: { runId: source.runId, iteration: source.iteration! },
      exploited: true,
      perturbations,
    };
  });
}
