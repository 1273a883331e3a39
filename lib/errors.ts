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

/**
 * The node sheds load it cannot serve in time (a bounded queue is full): 503 with Retry-After, so that
 * the client backs off instead of waiting past its timeout while the node works for nobody.
 */
export class OverloadedError extends ProximaError {
  constructor(message: string, retryAfterSeconds: number) {
    super(message, 503, "OVERLOADED", { retryAfter: Math.max(1, Math.ceil(retryAfterSeconds)) });
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

/** Every typed error by its name (ProximaError sets `name` to the class's), for ProximaRegenerator. */
const TYPED_ERRORS: Record<string, new (...args: never[]) => ProximaError> = {
  ProximaError,
  BadRequestError,
  UnauthorizedError,
  ForbiddenError,
  NotFoundError,
  ConflictError,
  ValidationFailedError,
  RateLimitedError,
  OverloadedError,
  PayloadTooLargeError,
  EnvFailedError,
};

/**
 * Moleculer rebuilds only its own error classes from a transporter's packet (errors.js,
 * `recreateError`); any other name comes back a plain `Error` with the fields copied. A NotFoundError
 * thrown by the runs service on a controller then reached the API of `npm run cluster` as a plain
 * Error, which the problem middleware maps to 500: a missing run, a wrong password, a spent login
 * budget all answered 500 (bench:soak found it). This restores each typed error as its own class
 * (`instanceof` holds, across NATS as in one process), with its message, code, type and data.
 */
export class ProximaRegenerator extends Errors.Regenerator {
  override restoreCustomError(plain: Errors.PlainMoleculerError): Error {
    const Class = TYPED_ERRORS[plain.name];
    // Undefined tells Moleculer to rebuild the error its own way (its .d.ts says Error).
    if (!Class) return undefined as unknown as Error;
    // ProximaError's constructor with the subclass as new.target: the subclasses' constructors take
    // other arguments, the fields are the same.
    return Reflect.construct(ProximaError, [plain.message, plain.code, plain.type, plain.data], Class);
  }
}
