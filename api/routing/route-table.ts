import Router from "@koa/router";
import type { Middleware } from "koa";
import type { z } from "zod";
import type { Role } from "../../contracts/roles.ts";
import { type FieldProblem, NotFoundError, ValidationFailedError } from "../../lib/errors.ts";
import type { ApiContext, ApiState } from "../context.ts";
import { readJsonBody } from "../middleware/json-body.ts";
import { unsafeInputProblems } from "./input-guard.ts";

/**
 * Routes are data: a method, a path, who may call it, zod schemas for its params, query and body, and
 * its responses. The same definitions mount the Koa router (validation included) and produce the
 * OpenAPI document, so the document cannot drift from what the API checks.
 *
 * A later area of the API adds a module under `api/routes/` that calls `scope.add(...)` for each of
 * its routes, and lists it in `api/routes/index.ts`.
 */
export type HttpMethod = "get" | "post" | "put" | "patch" | "delete";

/** Who may call a route: anyone, any enabled account, or the holders of some roles. */
export type Access = "public" | "authenticated" | { roles: readonly Role[] };

export interface ResponseSpec {
  description: string;
  schema?: z.ZodType;
  /** Defaults to application/json when a schema is given. */
  contentType?: string;
}

type Out<S> = S extends z.ZodType ? z.output<S> : undefined;

export interface RouteInput<P, Q, B> {
  params: Out<P>;
  query: Out<Q>;
  body: Out<B>;
}

export interface RouteSpec<P = undefined, Q = undefined, B = undefined> {
  method: HttpMethod;
  /** Koa path relative to the scope, with `:name` parameters. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  access: Access;
  params?: P;
  query?: Q;
  body?: B;
  /**
   * The problems of a body that failed `body`'s checks which the schema cannot see (they need the
   * valid fields first), given the fields already flagged: so that every invalid field is named at once.
   */
  moreBodyProblems?(raw: unknown, flagged: ReadonlySet<string>): FieldProblem[];
  /** The success responses; error responses (problem+json) are documented from `access` and schemas. */
  responses: Record<number, ResponseSpec>;
  /** Whether the general API rate limit applies (default true; health probes and scrapes opt out). */
  rateLimited?: boolean;
  /** Left out of the OpenAPI document (the document's own route, the docs page). */
  hidden?: boolean;
  /** What a params mismatch is reported as: ids that cannot exist are 404s, not validation errors. */
  notFound?: string;
  handler(ctx: ApiContext, input: RouteInput<P, Q, B>): Promise<void> | void;
}

export interface MountedRoute {
  spec: RouteSpec<z.ZodType | undefined, z.ZodType | undefined, z.ZodType | undefined>;
  /** Full Koa path, prefix included. */
  path: string;
}

/** The middleware the table needs from the app to mount protected and limited routes. */
export interface RouteGuards {
  authenticate: Middleware<ApiState>;
  requireRole: (roles: readonly Role[]) => Middleware<ApiState>;
  rateLimit: Middleware<ApiState>;
  bodyLimit: { bytes: number; text: string };
}

export class RouteScope {
  constructor(
    private readonly table: RouteTable,
    private readonly prefix: string,
  ) {}

  add<
    P extends z.ZodType | undefined = undefined,
    Q extends z.ZodType | undefined = undefined,
    B extends z.ZodType | undefined = undefined,
  >(spec: RouteSpec<P, Q, B>): void {
    this.table.register(`${this.prefix}${spec.path}`, spec as unknown as MountedRoute["spec"]);
  }
}

export class DuplicateRouteError extends Error {
  override name = "DuplicateRouteError";
}

export class RouteTable {
  readonly routes: MountedRoute[] = [];

  scope(prefix: string): RouteScope {
    return new RouteScope(this, prefix);
  }

  register(path: string, spec: MountedRoute["spec"]): void {
    const clash = this.routes.find((r) => r.path === path && r.spec.method === spec.method);
    if (clash) throw new DuplicateRouteError(`${spec.method.toUpperCase()} ${path} is defined twice`);
    if (this.routes.some((r) => r.spec.operationId === spec.operationId)) {
      throw new DuplicateRouteError(`operationId ${spec.operationId} is used twice`);
    }
    this.routes.push({ path, spec });
  }

  /** A Koa router with every route, each behind its guards and validation. */
  router(guards: RouteGuards): Router<ApiState> {
    const router = new Router<ApiState>();
    for (const { path, spec } of this.routes) {
      const chain: Middleware<ApiState>[] = [];
      if (spec.access !== "public") chain.push(guards.authenticate);
      if (spec.rateLimited !== false) chain.push(guards.rateLimit);
      if (typeof spec.access === "object") chain.push(guards.requireRole(spec.access.roles));
      chain.push(async (ctx) => {
        const input = await validateInput(ctx, spec, guards.bodyLimit);
        await spec.handler(ctx, input);
      });
      router.register(path, [spec.method.toUpperCase()], chain as never);
    }
    return router;
  }
}

async function validateInput(
  ctx: ApiContext,
  spec: MountedRoute["spec"],
  bodyLimit: RouteGuards["bodyLimit"],
): Promise<RouteInput<z.ZodType, z.ZodType, z.ZodType>> {
  const input = { params: undefined, query: undefined, body: undefined } as RouteInput<
    z.ZodType,
    z.ZodType,
    z.ZodType
  >;
  if (spec.params) {
    const raw = (ctx as unknown as { params: unknown }).params;
    const parsed = unsafeInputProblems(raw, "params").length === 0 ? spec.params.safeParse(raw) : undefined;
    if (!parsed?.success) throw new NotFoundError(spec.notFound ?? "resource");
    input.params = parsed.data;
  }
  const problems: FieldProblem[] = [];
  if (spec.query) {
    const unsafe = unsafeInputProblems(ctx.query, "query");
    const parsed = unsafe.length === 0 ? spec.query.safeParse(ctx.query) : undefined;
    if (parsed?.success) input.query = parsed.data;
    else problems.push(...(parsed ? fieldProblems(parsed.error, "query") : unsafe));
  }
  if (spec.body) {
    const raw = await readJsonBody(ctx, bodyLimit.bytes, bodyLimit.text);
    const unsafe = unsafeInputProblems(raw, "body");
    const parsed = unsafe.length === 0 ? spec.body.safeParse(raw) : undefined;
    if (parsed?.success) input.body = parsed.data;
    else if (!parsed) problems.push(...unsafe);
    else {
      const found = fieldProblems(parsed.error, "body");
      const flagged = new Set(found.map((p) => p.field));
      problems.push(...found, ...(spec.moreBodyProblems?.(raw, flagged) ?? []));
    }
  }
  if (problems.length > 0) throw new ValidationFailedError("the request is invalid", problems);
  return input;
}

/**
 * Body fields are named by their path (`password`, `items.0.name`); query fields get a `query.` prefix.
 * Unknown fields of a strict object are named one by one, so that a client sees which key to drop.
 */
export function fieldProblems(error: z.ZodError, where: "query" | "body"): FieldProblem[] {
  const name = (path: readonly PropertyKey[]) => {
    const joined = path.map(String).join(".");
    return where === "body" ? joined || "body" : joined ? `query.${joined}` : "query";
  };
  return error.issues.flatMap((issue): FieldProblem[] =>
    issue.code === "unrecognized_keys"
      ? issue.keys.map((key) => ({ field: name([...issue.path, key]), message: "is not a known field" }))
      : [{ field: name(issue.path), message: issue.message }],
  );
}
