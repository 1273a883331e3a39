import type { ApiContext, ApiDeps } from "../context.ts";

/**
 * A service call on behalf of a request. The request id and the caller travel in `meta`, so that the
 * service's log lines and traces can be joined with the API's.
 */
export function callService<T>(deps: ApiDeps, ctx: ApiContext, action: string, params: object): Promise<T> {
  return deps.broker.call(action, params, {
    meta: { requestId: ctx.state.requestId, userId: ctx.state.user?.id },
  }) as Promise<T>;
}
