import { type ActionName, type ActionParams, type ActionResult, call } from "../../services/actions.ts";
import type { ApiContext, ApiDeps } from "../context.ts";

/**
 * A service call on behalf of a request, typed by the action's contract (services/actions.ts). The
 * request id and the caller travel in `meta`, so that the service's log lines and traces can be
 * joined with the API's.
 */
export function callService<N extends ActionName>(
  deps: ApiDeps,
  ctx: ApiContext,
  action: N,
  params: ActionParams<N>,
): Promise<ActionResult<N>> {
  return call(deps.broker, action, params, {
    meta: { requestId: ctx.state.requestId, userId: ctx.state.user?.id },
  });
}
