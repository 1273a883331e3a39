/**
 * Errors the pool throws at its caller. They are about the pool, never about the submitted code:
 * whatever the code does (loops, bombs, throws, escapes) comes back as a `SandboxResult` with
 * `status: "error"`, not as an exception. The module is framework-free; the service layer maps
 * these onto its own HTTP-aware errors (busy → 503/429, closed → 503, invalid → 400).
 */
export class SandboxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Every child is busy and the bounded queue is full: the caller should retry later. */
export class SandboxBusyError extends SandboxError {
  readonly queued: number;
  constructor(queued: number) {
    super(`the sandbox pool is saturated (${queued} jobs queued)`);
    this.queued = queued;
  }
}

/** The pool is closing or closed; queued jobs are rejected with this too. */
export class SandboxClosedError extends SandboxError {
  constructor() {
    super("the sandbox pool is closed");
  }
}

/** Children fail to start again and again (missing native module, broken install). */
export class SandboxUnavailableError extends SandboxError {
  constructor(reason: string) {
    super(`the sandbox pool cannot start its processes: ${reason}`);
  }
}

/** The job itself is malformed (caller's fault, not the submitted code's): bad names, sizes, limits. */
export class SandboxInvalidJobError extends SandboxError {
  readonly issues: string[];
  constructor(issues: string[]) {
    super(`invalid sandbox job: ${issues.join("; ")}`);
    this.issues = issues;
  }
}
