import { Errors } from "moleculer";

/**
 * The typed errors every layer throws. They are Moleculer client errors so that they keep their
 * `code` (the HTTP status), `type` and `data` when they cross NATS; the API maps them once to
 * RFC 9457 problem+json (api/middleware/problem.ts). Nothing else decides an HTTP status.
 */
export interface FieldProblem {
  /** JSON pointer-ish path of the offending field, e.g. "hyperparameters.learningRate". */
  field: string;
  message: string;
}

export class ProximaError extends Errors.MoleculerClientError {
  constructor(message: string, status: number, type: string, data?: Record<string, unknown>) {
    super(message, status, type, data ?? {});
    this.name = new.target.name;
  }
}

export class BadRequestError extends ProximaError {
  constructor(message: string, data?: Record<string, unknown>) {
    super(message, 400, "BAD_REQUEST", data);
  }
}

export class UnauthorizedError extends ProximaError {
  constructor(message = "authentication required", data?: Record<string, unknown>) {
    super(message, 401, "UNAUTHORIZED", data);
  }
}

export class ForbiddenError extends ProximaError {
  constructor(message = "you may not do this", data?: Record<string, unknown>) {
    super(message, 403, "FORBIDDEN", data);
  }
}

export class NotFoundError extends ProximaError {
  constructor(what: string, data?: Record<string, unknown>) {
    super(`${what} not found`, 404, "NOT_FOUND", data);
  }
}

export class ConflictError extends ProximaError {
  constructor(message: string, data?: Record<string, unknown>) {
    super(message, 409, "CONFLICT", data);
  }
}

export class ValidationFailedError extends ProximaError {
  constructor(
    message: string,
    readonly problems: FieldProblem[],
  ) {
    super(message, 422, "VALIDATION_FAILED", { errors: problems });
  }
}

export class RateLimitedError extends ProximaError {
  constructor(message: string, retryAfterSeconds: number) {
    super(message, 429, "RATE_LIMITED", { retryAfter: Math.max(1, Math.ceil(retryAfterSeconds)) });
  }
}

/** A request whose content is larger than a limit of its own (beyond the general body limit). */
export class PayloadTooLargeError extends ProximaError {
  constructor(message: string, data?: Record<string, unknown>) {
    super(message, 413, "PAYLOAD_TOO_LARGE", data);
  }
}

/**
 * An environment defined by code failed while a run stepped it (it threw, ran out of time or memory,
 * returned malformed data). The run fails with this message; the worker that hosted it is fine.
 */
export class EnvFailedError extends ProximaError {
  constructor(message: string, data?: Record<string, unknown>) {
    super(message, 422, "ENV_FAILED", data);
  }
}
