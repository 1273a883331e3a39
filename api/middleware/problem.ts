import { STATUS_CODES } from "node:http";
import type { Middleware } from "koa";
import { Errors } from "moleculer";
import { type FieldProblem, OverloadedError } from "../../lib/errors.ts";
import type { ApiContext, ApiState } from "../context.ts";

/**
 * The one place where errors become HTTP responses: RFC 9457 problem details
 * (`application/problem+json`) with `type`, `title`, `status`, `detail`, `instance`, plus `requestId`
 * and, for field problems, `errors: [{ field, message }]`.
 *
 * Sources, in order: typed errors from services (Moleculer client errors: their `code` is the status
 * and their `data` travels with them, across NATS too), Koa/HTTP errors (`status` + `expose`), and
 * plain responses left with an error status and no body (the router's 404, 405 with `Allow`, 501).
 * Anything else is a 500 whose message and stack stay in the log.
 */
export const PROBLEM_CONTENT_TYPE = "application/problem+json";
export const BEARER_REALM = "proxima";

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  requestId: string;
  errors?: FieldProblem[];
  [extension: string]: unknown;
}

interface Mapped {
  status: number;
  type: string;
  detail: string;
  data?: Record<string, unknown>;
  errors?: FieldProblem[];
  headers?: Record<string, string>;
}

/** Moleculer's own errors that speak of the cluster, not of the request, whatever their `code`. */
const UNAVAILABLE_TYPES = new Set([
  "SERVICE_NOT_FOUND",
  "SERVICE_NOT_AVAILABLE",
  "REQUEST_REJECTED",
  "REQUEST_SKIPPED",
  "QUEUE_FULL",
  "CIRCUIT_BREAKER_OPEN",
]);

export function problemMiddleware(): Middleware<ApiState> {
  return async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      const mapped = mapError(err);
      if (mapped.status >= 500 && !(err instanceof OverloadedError)) {
        ctx.state.log?.error({ err }, "request failed");
      } else {
        ctx.state.log?.debug(
          { err: { message: (err as Error)?.message, type: mapped.type } },
          "request refused",
        );
      }
      writeProblem(ctx, mapped);
      return;
    }
    if (ctx.status >= 400 && ctx.body == null) {
      writeProblem(ctx, { status: ctx.status, type: slug(ctx.status), detail: defaultDetail(ctx) });
    }
  };
}

function mapError(err: unknown): Mapped {
  if (err instanceof Errors.MoleculerError) {
    const type = err.type || "ERROR";
    if (UNAVAILABLE_TYPES.has(type)) {
      return {
        status: 503,
        type: "SERVICE_UNAVAILABLE",
        detail: "a service needed for this request is unavailable",
      };
    }
    if (type === "REQUEST_TIMEOUT") {
      return { status: 504, type: "TIMEOUT", detail: "a service did not answer in time" };
    }
    if (err instanceof OverloadedError) {
      return { status: 503, type, detail: err.message, data: isRecord(err.data) ? err.data : undefined };
    }
    if (err.code >= 400 && err.code < 500) {
      const data = isRecord(err.data) ? err.data : undefined;
      const errors = Array.isArray(data?.["errors"]) ? (data["errors"] as FieldProblem[]) : undefined;
      return { status: err.code, type, detail: err.message, data, errors };
    }
    return internal();
  }
  if (isHttpError(err) && err.status >= 400 && err.status < 500) {
    const headers = isRecord(err.headers) ? (err.headers as Record<string, string>) : undefined;
    return {
      status: err.status,
      type: slug(err.status),
      detail: err.expose ? err.message : reason(err.status),
      headers,
    };
  }
  return internal();
}

function internal(): Mapped {
  return {
    status: 500,
    type: "INTERNAL",
    detail: "an unexpected error occurred; the request id identifies it in the logs",
  };
}

function writeProblem(ctx: ApiContext, mapped: Mapped): void {
  const { status } = mapped;
  for (const [name, value] of Object.entries(mapped.headers ?? {})) {
    // Headers an error asked for (a CORS middleware's, say), minus anything about the body.
    if (!/^content-/i.test(name)) ctx.set(name, value);
  }
  if (status === 401) ctx.set("WWW-Authenticate", wwwAuthenticate(mapped.data));
  const retryAfter = mapped.data?.["retryAfter"];
  if ((status === 429 || status === 503) && typeof retryAfter === "number")
    ctx.set("Retry-After", String(retryAfter));
  const { bearerError: _bearerError, errors: _errors, ...extensions } = mapped.data ?? {};
  const body: ProblemBody = {
    ...extensions,
    type: `urn:proxima:problem:${mapped.type.toLowerCase().replaceAll("_", "-")}`,
    title: reason(status),
    status,
    detail: mapped.detail,
    instance: ctx.path,
    requestId: ctx.state.requestId,
    ...(mapped.errors ? { errors: mapped.errors } : {}),
  };
  ctx.status = status;
  ctx.body = body;
  ctx.type = PROBLEM_CONTENT_TYPE;
}

/** RFC 6750 §3: the challenge names the error only when a token was presented and refused. */
function wwwAuthenticate(data: Record<string, unknown> | undefined): string {
  const error = data?.["bearerError"];
  return typeof error === "string"
    ? `Bearer realm="${BEARER_REALM}", error="${error}"`
    : `Bearer realm="${BEARER_REALM}"`;
}

function defaultDetail(ctx: ApiContext): string {
  if (ctx.status === 404) return `no route matches ${ctx.method} ${ctx.path}`;
  if (ctx.status === 405)
    return `${ctx.method} is not allowed here; allowed: ${ctx.response.get("Allow") || "none"}`;
  if (ctx.status === 501) return `${ctx.method} is not implemented`;
  return reason(ctx.status);
}

function reason(status: number): string {
  return STATUS_CODES[status] ?? "Error";
}

function slug(status: number): string {
  return reason(status)
    .toUpperCase()
    .replace(/[^A-Z0-9]+/g, "_");
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isHttpError(
  err: unknown,
): err is { status: number; expose?: boolean; message: string; headers?: unknown } {
  return isRecord(err) && typeof err["status"] === "number";
}
