/**
 * Generalized Advantage Estimation (Schulman, Moritz, Levine, Jordan & Abbeel, "High-dimensional
 * continuous control using generalized advantage estimation", ICLR 2016), in CleanRL's backward
 * recursion over a [numSteps, numEnvs] rollout:
 *
 *   δ_t = r_t + γ·V(s_{t+1})·(1 − done_t) − V(s_t)
 *   A_t = δ_t + γ·λ·(1 − done_t)·A_{t+1},   returns = A + V
 *
 * where done_t = terminated_t ∨ truncated_t ends the recursion at episode boundaries (with SAME_STEP
 * autoreset s_{t+1} already belongs to the next episode). A truncated episode did not end in the
 * MDP, so its last step is bootstrapped from the value of its final observation by adding
 * γ·V(s_final) to its reward — the "timeout bootstrap" of Pardo et al., "Time limits in reinforcement
 * learning" (ICML 2018), as Stable-Baselines3 does in `OnPolicyAlgorithm.collect_rollouts`.
 */

export interface GaeInput {
  numSteps: number;
  numEnvs: number;
  gamma: number;
  gaeLambda: number;
  rewards: Float32Array;
  /** V(s_t), [numSteps, numEnvs]. */
  values: Float32Array;
  terminated: Uint8Array;
  truncated: Uint8Array;
  /** V(s_T) of the observation after the last step, [numEnvs]. */
  nextValues: Float32Array;
  /** Flat indices t·numEnvs + i of truncated steps, and V(final observation) for each. */
  truncatedIndex: Int32Array;
  truncatedValues: Float32Array;
}

/** Writes `advantages` and `returns` ([numSteps, numEnvs]). */
export function computeGae(g: GaeInput, advantages: Float32Array, returns: Float32Array): void {
  const { numSteps: T, numEnvs: N, gamma, gaeLambda } = g;
  const rewards = Float64Array.from(g.rewards.subarray(0, T * N));
  for (let k = 0; k < g.truncatedIndex.length; k++)
    rewards[g.truncatedIndex[k]] += gamma * g.truncatedValues[k];
  for (let i = 0; i < N; i++) {
    let lastgaelam = 0;
    for (let t = T - 1; t >= 0; t--) {
      const idx = t * N + i;
      const nextvalues = t === T - 1 ? g.nextValues[i] : g.values[idx + N];
      const nextnonterminal = g.terminated[idx] || g.truncated[idx] ? 0 : 1;
      const delta = rewards[idx] + gamma * nextvalues * nextnonterminal - g.values[idx];
      lastgaelam = delta + gamma * gaeLambda * nextnonterminal * lastgaelam;
      advantages[idx] = lastgaelam;
      returns[idx] = lastgaelam + g.values[idx];
    }
  }
}
