/**
 * The one error type of `rl/envs`. Gymnasium signals these cases with `AssertionError`
 * (invalid action), `ResetNeeded` (OrderEnforcing) or a warning (stepping a finished episode); we
 * raise one typed error with a machine-readable code instead, so that callers (the CLI, the actors)
 * can map it without parsing messages.
 */

export type EnvErrorCode =
  /** The action is not in the action space (wrong type, non-integer, out of range, NaN, wrong length). */
  | "INVALID_ACTION"
  /** `step` was called before the first `reset`. */
  | "RESET_NEEDED"
  /** `step` was called after `terminated` or `truncated` without a `reset` in between. */
  | "EPISODE_FINISHED"
  /** A step produced a NaN observation (typically from a written `state`). */
  | "NAN_OBSERVATION"
  /** A written `state` or a restored snapshot has the wrong shape or type. */
  | "INVALID_STATE"
  /** `makeEnv` was given an id that is not registered. */
  | "UNKNOWN_ENV"
  /** `makeEnv` was given a MuJoCo id before the engine was loaded (`await prepareEnv(id)` first). */
  | "ENGINE_NOT_LOADED"
  /** An option (`maxEpisodeSteps`, `numEnvs`, a seed) is out of its domain. */
  | "INVALID_OPTION";

export class EnvError extends Error {
  override readonly name = "EnvError";
  readonly code: EnvErrorCode;
  readonly envId: string | undefined;

  constructor(code: EnvErrorCode, message: string, envId?: string) {
    super(envId === undefined ? message : `${envId}: ${message}`);
    this.code = code;
    this.envId = envId;
  }
}
