import fc from "fast-check";
import { z } from "zod";

/**
 * fast-check arbitraries generated from a route's own zod schemas, through the JSON Schema that
 * `z.toJSONSchema` makes of them (the one the OpenAPI document shows): values that match the schema,
 * with any node (the whole input included) replaced now and then by a hostile value, so that every
 * route meets valid, boundary and hostile input at every depth.
 */
type JsonSchema = Record<string, unknown>;

/** Known-good values for fields whose valid values a schema cannot tell (env ids, hyperparameters). */
export type Hints = Record<string, fc.Arbitrary<unknown>>;

export const BOUNDARY_NUMBERS = [
  0,
  -0,
  1,
  -1,
  0.5,
  2 ** 31 - 1,
  2 ** 31,
  2 ** 32,
  2 ** 53 - 1,
  2 ** 53,
  -(2 ** 53),
  2 ** 53 + 2,
  -(2 ** 53) - 2,
  1e308,
  -1e308,
  5e-324,
  1e10,
];

const HOSTILE_STRINGS = [
  "",
  "\u0000",
  "a\u0000b",
  "\ud800",
  "x\udfffy",
  "\ud83d",
  "../../../../etc/passwd",
  "..%2f..%2fetc%2fpasswd",
  "%00",
  "__proto__",
  "constructor",
  "' OR '1'='1' --",
  "{{7*7}}",
  "<script>alert(1)</script>",
  "😀".repeat(64),
  "x".repeat(10_000),
  "custom:00000000-0000-0000-0000-000000000000",
  "00000000-0000-0000-0000-000000000000",
];

function deep(levels: number, leaf: unknown, kind: "array" | "object"): unknown {
  let v = leaf;
  for (let i = 0; i < levels; i++) v = kind === "array" ? [v] : { a: v };
  return v;
}

/** Strings that PostgreSQL, UTF-8 or a naive parser may choke on. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...HOSTILE_STRINGS),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ maxLength: 20 }).map((s) => `${s}\u0000${s}`),
  fc.string({ maxLength: 20 }).map((s) => `${s}\udc00`),
);

/** Any hostile JSON value: boundary numbers, wrong types, huge arrays, deep nesting, prototype keys. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  fc.constantFrom(...BOUNDARY_NUMBERS),
  fc.constantFrom(null, true, false, [], {}),
  fc.constant(Array.from({ length: 5000 }, (_, i) => i)),
  fc.constant(Array.from({ length: 2000 }, () => "x".repeat(100))),
  fc.constantFrom(deep(40, 1, "array"), deep(40, "x", "object"), deep(300, 0, "array")),
  fc.constant(JSON.parse('{"__proto__": {"role": "admin", "isAdmin": true}}')),
  fc.constant({ constructor: { prototype: { role: "admin" } } }),
  fc.anything({ maxDepth: 3 }),
);

/**
 * `schema` resolved to a generator: half the time values that match it (so that requests get past
 * validation to the services and the database), half the time with `hostileRate` of the nodes
 * replaced by hostile values or out-of-range boundaries. `hints` (by property name) add known-good
 * values beside what the schema alone would give.
 */
export function fromZod(schema: z.ZodType, hints: Hints, hostileRate = 0.1): fc.Arbitrary<unknown> {
  const root = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as JsonSchema;
  return fc.oneof(fromJsonSchema(root, root, hints, 0, 0), fromJsonSchema(root, root, hints, hostileRate, 0));
}

function withHostile(a: fc.Arbitrary<unknown>, rate: number): fc.Arbitrary<unknown> {
  if (rate <= 0) return a;
  const weight = Math.max(1, Math.round((1 - rate) / rate));
  return fc.oneof({ arbitrary: a, weight }, { arbitrary: hostileValue, weight: 1 });
}

function fromJsonSchema(
  s: JsonSchema,
  root: JsonSchema,
  hints: Hints,
  rate: number,
  depth: number,
): fc.Arbitrary<unknown> {
  return withHostile(validFor(s, root, hints, rate, depth), rate);
}

function validFor(
  s: JsonSchema,
  root: JsonSchema,
  hints: Hints,
  rate: number,
  depth: number,
): fc.Arbitrary<unknown> {
  const recurse = (child: JsonSchema) => fromJsonSchema(child, root, hints, rate, depth + 1);
  if (typeof s["$ref"] === "string") {
    const name = (s["$ref"] as string).split("/").at(-1)!;
    const defs = (root["$defs"] ?? root["definitions"] ?? {}) as Record<string, JsonSchema>;
    return defs[name] && depth < 8 ? validFor(defs[name], root, hints, rate, depth + 1) : fc.anything();
  }
  if ("const" in s) return fc.constant(s["const"]);
  if (Array.isArray(s["enum"])) return fc.constantFrom(...(s["enum"] as unknown[]));
  for (const key of ["anyOf", "oneOf"]) {
    if (Array.isArray(s[key])) return fc.oneof(...(s[key] as JsonSchema[]).map(recurse));
  }
  if (Array.isArray(s["allOf"]) && (s["allOf"] as unknown[]).length > 0) {
    return recurse((s["allOf"] as JsonSchema[])[0]!);
  }
  const type = s["type"];
  if (Array.isArray(type))
    return fc.oneof(...type.map((t) => validFor({ ...s, type: t }, root, hints, rate, depth)));
  switch (type) {
    case "string":
      return stringFor(s);
    case "integer":
    case "number":
      return numberFor(s, type === "integer", rate > 0);
    case "boolean":
      return fc.boolean();
    case "null":
      return fc.constant(null);
    case "array": {
      const items = (s["items"] as JsonSchema | undefined) ?? {};
      const minLength = (s["minItems"] as number | undefined) ?? 0;
      const maxLength = Math.min((s["maxItems"] as number | undefined) ?? 4, minLength + 4);
      return fc.array(depth > 6 ? fc.constant(null) : recurse(items), { minLength, maxLength });
    }
    case "object":
      return objectFor(s, root, hints, rate, depth);
    default:
      return depth > 4 ? fc.constant(null) : fc.jsonValue({ maxDepth: 2 });
  }
}

function objectFor(
  s: JsonSchema,
  root: JsonSchema,
  hints: Hints,
  rate: number,
  depth: number,
): fc.Arbitrary<unknown> {
  const properties = (s["properties"] ?? {}) as Record<string, JsonSchema>;
  const required = new Set((s["required"] ?? []) as string[]);
  const record: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [key, child] of Object.entries(properties)) {
    const own = fromJsonSchema(child, root, hints, rate, depth + 1);
    // Valid requests take the hint alone (so that they get through); hostile ones mix it with the schema's.
    const hint = hints[key];
    record[key] = !hint
      ? own
      : rate > 0
        ? fc.oneof({ arbitrary: hint, weight: 3 }, { arbitrary: own, weight: 1 })
        : hint;
  }
  const requiredKeys = Object.keys(properties).filter((k) => required.has(k));
  const fixed = fc.record(record, { requiredKeys });
  const extra = s["additionalProperties"];
  if (Object.keys(properties).length > 0 && extra === false && rate > 0) {
    // A stray key now and then: strict objects must refuse it by name.
    return fc.oneof(
      { arbitrary: fixed, weight: 9 },
      { arbitrary: fixed.map((o) => ({ ...(o as object), unexpected: 1 })), weight: 1 },
    );
  }
  if (Object.keys(properties).length > 0) return fixed;
  const values = typeof extra === "object" && extra !== null ? (extra as JsonSchema) : {};
  return fc.dictionary(
    rate > 0 ? fc.oneof(fc.string({ maxLength: 12 }), hostileString) : fc.string({ maxLength: 12 }),
    depth > 5 ? fc.jsonValue({ maxDepth: 1 }) : fromJsonSchema(values, root, hints, rate, depth + 1),
    { maxKeys: 4 },
  );
}

function stringFor(s: JsonSchema): fc.Arbitrary<string> {
  const minLength = (s["minLength"] as number | undefined) ?? 0;
  const maxLength = Math.min((s["maxLength"] as number | undefined) ?? 40, Math.max(minLength, 64));
  switch (s["format"]) {
    case "uuid":
      return fc.uuid();
    case "email":
      return fc.emailAddress();
    case "date-time":
      return fc.date({ noInvalidDate: true }).map((d) => d.toISOString());
  }
  if (typeof s["pattern"] === "string") {
    try {
      return fc
        .stringMatching(new RegExp(s["pattern"] as string))
        .filter((x) => x.length >= minLength && x.length <= ((s["maxLength"] as number) ?? Infinity));
    } catch {
      // a pattern JavaScript cannot compile: plain strings below
    }
  }
  return fc.string({ minLength, maxLength });
}

function numberFor(s: JsonSchema, integer: boolean, edges: boolean): fc.Arbitrary<number> {
  const lo = (s["minimum"] as number | undefined) ?? (s["exclusiveMinimum"] as number | undefined);
  const hi = (s["maximum"] as number | undefined) ?? (s["exclusiveMaximum"] as number | undefined);
  const min = Math.max(lo ?? -(2 ** 53), -(2 ** 53));
  const max = Math.min(hi ?? 2 ** 53, 2 ** 53);
  const around = [lo, hi, lo === undefined ? undefined : lo - 1, hi === undefined ? undefined : hi + 1];
  const boundary = fc.constantFrom(...around.filter((x): x is number => x !== undefined), 0);
  const a = Math.ceil(min);
  const b = Math.floor(max);
  const inside = !integer
    ? fc.double({ min, max, noNaN: true, noDefaultInfinity: true })
    : a > b
      ? fc.constant(a)
      : a >= -(2 ** 31) && b < 2 ** 31
        ? fc.integer({ min: a, max: b })
        : fc.double({ min: a, max: b, noNaN: true }).map(Math.round);
  return edges ? fc.oneof({ arbitrary: inside, weight: 3 }, { arbitrary: boundary, weight: 1 }) : inside;
}
