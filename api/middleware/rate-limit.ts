import type { Middleware } from "koa";
import { RateLimiterMemory, RateLimiterRes } from "rate-limiter-flexible";
import { RateLimitedError } from "../../lib/errors.ts";
import type { ApiState } from "../context.ts";

/**
 * The general API rate limit: `perMinute` requests per user (per client IP when anonymous), per API
 * process. In memory on purpose: it guards this process's capacity, and costs no round trip. (Failed
 * logins, which must be counted across replicas, are limited in PostgreSQL by the users service.)
 */
export function apiRateLimit(perMinute: number): Middleware<ApiState> {
  const limiter = new RateLimiterMemory({ points: perMinute, duration: 60 });
  return async (ctx, next) => {
    const key = ctx.state.user ? `user:${ctx.state.user.id}` : `ip:${ctx.ip}`;
    try {
      await limiter.consume(key, 1);
    } catch (err) {
      if (err instanceof RateLimiterRes) {
        throw new RateLimitedError("too many requests; slow down", err.msBeforeNext / 1000);
      }
      throw err;
    }
    await next();
  };
}
