import { z } from "zod";
import type { MountedRoute, RouteTable } from "./routing/route-table.ts";

/**
 * The OpenAPI 3.1 document, generated from the route table: the zod schemas that validate requests
 * are converted with `z.toJSONSchema` (JSON Schema 2020-12, the dialect of OpenAPI 3.1), so the
 * document describes exactly what the API accepts.
 */
type JsonSchema = Record<string, unknown>;

export interface OpenApiInfo {
  title: string;
  version: string;
  description?: string;
}

const PROBLEM_SCHEMA: JsonSchema = {
  type: "object",
  description: "RFC 9457 problem details.",
  required: ["type", "title", "status", "detail", "instance", "requestId"],
  properties: {
    type: {
      type: "string",
      description: "URI naming the kind of problem, e.g. urn:proxima:problem:validation-failed.",
    },
    title: { type: "string" },
    status: { type: "integer" },
    detail: { type: "string" },
    instance: { type: "string", description: "The request path." },
    requestId: { type: "string", description: "Also in the X-Request-Id response header and in the logs." },
    errors: {
      type: "array",
      description: "Field problems (422): body fields by path, query fields as query.<name>.",
      items: {
        type: "object",
        required: ["field", "message"],
        properties: { field: { type: "string" }, message: { type: "string" } },
      },
    },
    retryAfter: { type: "integer", description: "Seconds to wait (429), as in the Retry-After header." },
  },
};

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: "Malformed request (e.g. a body that is not JSON).",
  401: "Missing, invalid or expired access token, or wrong credentials.",
  403: "The caller's role does not allow this.",
  404: "No such resource (or one the caller may not see).",
  409: "Conflicts with the current state.",
  413: "The request body is too large.",
  415: "The request body is not JSON.",
  422: "The request does not match the schema; `errors` names the fields. Every route also refuses text with a NUL or an unpaired UTF-16 surrogate, numbers that are not finite, and nesting deeper than 32 levels.",
  429: "Rate limited; see Retry-After.",
  500: "Unexpected error; quote the requestId.",
  503: "A service needed for this request is unavailable.",
};

export function buildOpenApiDocument(table: RouteTable, info: OpenApiInfo): JsonSchema {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of table.routes) {
    if (route.spec.hidden) continue;
    const path = route.path.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
    paths[path] ??= {};
    paths[path][route.spec.method] = operation(route);
  }
  return {
    openapi: "3.1.0",
    info,
    jsonSchemaDialect: "https://json-schema.org/draft/2020-12/schema",
    servers: [{ url: "/" }],
    paths,
    components: {
      schemas: { Problem: PROBLEM_SCHEMA },
      securitySchemes: { bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "JWT" } },
    },
  };
}

function operation({ spec }: MountedRoute): JsonSchema {
  const op: JsonSchema = {
    operationId: spec.operationId,
    summary: spec.summary,
    tags: spec.tags,
  };
  const access =
    spec.access === "public"
      ? "Public."
      : spec.access === "authenticated"
        ? "Any enabled account."
        : `Roles: ${spec.access.roles.join(", ")}.`;
  op["description"] = [spec.description, access].filter(Boolean).join("\n\n");
  const parameters = [...parametersOf(spec.params, "path"), ...parametersOf(spec.query, "query")];
  if (parameters.length > 0) op["parameters"] = parameters;
  if (spec.body) {
    op["requestBody"] = {
      required: true,
      content: { "application/json": { schema: toSchema(spec.body, "input") } },
    };
  }
  if (spec.access !== "public") op["security"] = [{ bearerAuth: [] }];

  const responses: Record<string, unknown> = {};
  for (const [status, response] of Object.entries(spec.responses)) {
    // A download without a schema (CSV, ONNX, a checkpoint) still names its media type.
    const media = response.schema ? { schema: toSchema(response.schema, "output") } : {};
    const type = response.contentType ?? (response.schema ? "application/json" : undefined);
    responses[status] = type
      ? { description: response.description, content: { [type]: media } }
      : { description: response.description };
  }
  for (const status of errorStatuses(spec)) {
    responses[String(status)] ??= {
      description: ERROR_DESCRIPTIONS[status],
      content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } },
    };
  }
  op["responses"] = responses;
  return op;
}

function errorStatuses(spec: MountedRoute["spec"]): number[] {
  const statuses: number[] = [];
  if (spec.body) statuses.push(400, 413, 415, 422);
  else if (spec.query) statuses.push(422);
  if (spec.access !== "public") statuses.push(401);
  if (typeof spec.access === "object") statuses.push(403);
  if (spec.params) statuses.push(404);
  if (spec.rateLimited !== false) statuses.push(429);
  statuses.push(500);
  return statuses.sort((a, b) => a - b);
}

function parametersOf(schema: z.ZodType | undefined, where: "path" | "query"): JsonSchema[] {
  if (!schema) return [];
  const json = toSchema(schema, "input");
  const properties = (json["properties"] ?? {}) as Record<string, JsonSchema>;
  const required = new Set((json["required"] ?? []) as string[]);
  return Object.entries(properties).map(([name, property]) => {
    const { description, ...rest } = property;
    return {
      name,
      in: where,
      required: where === "path" || required.has(name),
      ...(typeof description === "string" ? { description } : {}),
      schema: rest,
    };
  });
}

function toSchema(schema: z.ZodType, io: "input" | "output"): JsonSchema {
  const { $schema: _dialect, ...json } = z.toJSONSchema(schema, {
    target: "draft-2020-12",
    io,
    unrepresentable: "any",
  }) as JsonSchema;
  return json;
}
