import type { Context, ServiceSchema } from "moleculer";
import { z } from "zod";
import { ROLES } from "../contracts/roles.ts";
import { ValidationFailedError } from "../lib/errors.ts";

/**
 * A service action's contract: the zod schema of its params (the one validator: Moleculer's own
 * fastest-validator is not used) and the type of its result. A service declares its contracts once,
 * beside its schema (`defineActions`), implements them (`implement`, which checks every handler's
 * params and result types against them), and every caller in the cluster calls them by name through
 * `call` in services/actions.ts, typed from the same declarations.
 */
export interface ActionContract<P extends z.ZodType = z.ZodType, R = unknown> {
  params: P;
  /** Never read: it carries the result's type. */
  result: R;
}

/** The result type of a contract, written where a contract is declared: `result: returns<PublicRun>()`. */
export function returns<R>(): R {
  return undefined as R;
}

/** A service's contracts, keyed by action name (without the service's prefix). */
export type Contracts = Record<string, ActionContract>;

/** Declares a service's action contracts; the identity, kept for its type. */
export function defineActions<C extends Contracts>(contracts: C): C {
  return contracts;
}

/** Who asks, as the API passes it to every action that acts for a user (contracts/roles.ts Caller). */
export const CallerParams = z.object({ userId: z.uuid(), role: z.enum(ROLES) });

/** The params a caller passes (before the schema's defaults and coercions). */
export type ParamsIn<C extends ActionContract> = z.input<C["params"]>;
/** The params a handler receives (after them). */
export type ParamsOut<C extends ActionContract> = z.output<C["params"]>;

export type Handlers<C extends Contracts> = {
  [K in keyof C]: (ctx: Context<ParamsOut<C[K]>>) => Promise<C[K]["result"]> | C[K]["result"];
};

type ServiceActionsSchema = NonNullable<ServiceSchema["actions"]>;

/** Each issue of a failed parse as the API's field problems (`field`: the dotted path). */
function fieldProblems(error: z.ZodError): { field: string; message: string }[] {
  return error.issues.map((issue) => ({
    field: issue.path.length > 0 ? issue.path.map(String).join(".") : "(params)",
    message: issue.message,
  }));
}

/**
 * Moleculer actions from contracts and their handlers: each parses its params with its contract's
 * schema (a failure is the same 422 the API gives for a bad request, naming every field) and hands
 * the handler the parsed params. Actions are "public": callable from other nodes, never published by
 * a gateway (Moleculer registers no "protected" action for remote nodes, and callers are often on
 * another process).
 */
export function implement<C extends Contracts>(contracts: C, handlers: Handlers<C>): ServiceActionsSchema {
  const actions: ServiceActionsSchema = {};
  for (const [name, contract] of Object.entries(contracts)) {
    const handler = handlers[name as keyof C] as (ctx: Context<unknown>) => unknown;
    actions[name] = {
      visibility: "public",
      handler(ctx: Context<unknown>) {
        const parsed = contract.params.safeParse(ctx.params ?? {});
        if (!parsed.success)
          throw new ValidationFailedError(
            `invalid params for ${ctx.action?.name ?? name}`,
            fieldProblems(parsed.error),
          );
        (ctx as { params: unknown }).params = parsed.data;
        return handler(ctx);
      },
    };
  }
  return actions;
}
