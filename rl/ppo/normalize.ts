/**
 * Observation and reward normalisation, as Stable-Baselines3's VecNormalize
 * (stable_baselines3/common/vec_env/vec_normalize.py) with its RunningMeanStd
 * (stable_baselines3/common/running_mean_std.py).
 */

/** Running moments of a vector quantity (SB3's RunningMeanStd: mean, var, count), as stored. */
export interface RunningMomentsState {
  mean: number[];
  var: number[];
  count: number;
}

/** The normaliser's statistics and settings, as a checkpoint holds them. */
export interface NormalizationState {
  /** Observation moments; null when normalizeObs is off. */
  obs: RunningMomentsState | null;
  /** Moments of the discounted return, for reward scaling; null when normalizeReward is off. */
  ret: RunningMomentsState | null;
  clipObs: number;
  clipReward: number;
  epsilon: number;
}
