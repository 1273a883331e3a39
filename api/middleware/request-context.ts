import { randomUUID } from "node:crypto";
import type { Middleware } from "koa";
import type { Logger } from "../../lib/logger.ts";
import type { ApiState } from "../context.ts";

/**
 * Gives every request an id — the caller's `X-Request-Id` when it is a sane token (so that a trace
 * can cross a proxy), a fresh UUID otherwise — and a child logger carrying it. The id is echoed in the
 * `X-Request-Id` response header and in problem bodies; one access-log line is written per request.
 */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestContext(logger: Logger): Middleware<ApiState> {
  return async (ctx, next) => {
    const offered = ctx.get("x-request-id");
    const requestId = SANE_REQUEST_ID.test(offered) ? offered : randomUUID();
    ctx.state.requestId = requestId;
    ctx.state.log = logger.child({ reqId: requestId });
    ctx.set("X-Request-Id", requestId);
    const started = performance.now();
    try {
      await next();
    } finally {
      // Logged from here, after the problem middleware (inside) has set the final status.
      ctx.state.log.info(
        {
          method: ctx.method,
          path: ctx.path,
          status: ctx.status,
          ms: Math.round((performance.now() - started) * 10) / 10,
          userId: ctx.state.user?.id,
        },
        "request",
      );
    }
  };
}
