import type { CallingOptions, ServiceBroker } from "moleculer";
import type { ParamsIn } from "./action.ts";
import type { RUNS_ACTIONS } from "./runs/actions.ts";
import type { SUBMISSIONS_ACTIONS } from "./submissions/actions.ts";
import type { SWEEPS_ACTIONS } from "./sweeps/actions.ts";
import type { TICKETS_ACTIONS } from "./tickets/actions.ts";
import type { USERS_ACTIONS } from "./users/actions.ts";
import type { WORKERS_ACTIONS } from "./workers/actions.ts";

/** A service's contracts under their full names (`runs` + `create` → `runs.create`). */
type Prefixed<S extends string, C> = { [K in keyof C & string as `${S}.${K}`]: C[K] };

/**
 * Every action of the cluster that callers name, with its params and result (type-only imports: a
 * caller loads no service's code).
 */
export type Actions = Prefixed<"runs", typeof RUNS_ACTIONS> &
  Prefixed<"sweeps", typeof SWEEPS_ACTIONS> &
  Prefixed<"submissions", typeof SUBMISSIONS_ACTIONS> &
  Prefixed<"tickets", typeof TICKETS_ACTIONS> &
  Prefixed<"users", typeof USERS_ACTIONS> &
  Prefixed<"workers", typeof WORKERS_ACTIONS>;

export type ActionName = keyof Actions & string;
export type ActionParams<N extends ActionName> = ParamsIn<Actions[N]>;
export type ActionResult<N extends ActionName> = Actions[N]["result"];

/** `call(broker, "runs.create", params)`: the params and the result typed by the action's contract. */
export function call<N extends ActionName>(
  broker: ServiceBroker,
  name: N,
  params: ActionParams<N>,
  opts?: CallingOptions,
): Promise<ActionResult<N>> {
  return broker.call(name, params, opts) as Promise<ActionResult<N>>;
}
