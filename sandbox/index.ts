/**
 * The code sandbox: submitted JavaScript runs in fresh isolated-vm isolates inside a pool of child
 * processes, and submitted environments in long-lived env sessions (one process and one isolate
 * each). See sandbox/README.md for what the submitted code must look like and what it can use.
 */

export {
  type CapViolation,
  CUSTOM_ENV_CAP_SETTINGS,
  type CustomEnvCaps,
  type CustomEnvSpec,
  capViolation,
  DEFAULT_CUSTOM_ENV_CAPS,
  DEFAULT_ENV_SESSION_LIMITS,
  type EnvBatchStep,
  type EnvInstanceState,
  EnvSession,
  EnvSessionError,
  type EnvSessionErrorKind,
  type EnvSessionLimits,
  type EnvSessionOptions,
  type JsonBox,
  type JsonDiscrete,
} from "./env-session.ts";
export {
  SandboxBusyError,
  SandboxClosedError,
  SandboxError,
  SandboxInvalidJobError,
  SandboxUnavailableError,
} from "./errors.ts";
export { DEFAULT_LIMITS, DEFAULT_NOW } from "./job.ts";
export { SandboxPool, type SandboxPoolOptions, type SandboxPoolStats } from "./pool.ts";
export type {
  SandboxCall,
  SandboxCallResult,
  SandboxErrorKind,
  SandboxFailure,
  SandboxJob,
  SandboxLimits,
  SandboxResult,
} from "./types.ts";
