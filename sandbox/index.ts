/**
 * The code sandbox: submitted JavaScript runs in fresh isolated-vm isolates inside a pool of child
 * processes. See sandbox/README.md for what the submitted code must look like and what it can use.
 */
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
