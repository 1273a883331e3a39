import test from "ava";
import { z } from "zod";
import { plainFieldMessage } from "../../contracts/problems.ts";

/** The validators' messages, as zod 4 writes them, rewritten for people; the API's own sentences kept. */
function messageOf(schema: z.ZodType, value: unknown): string {
  const r = schema.safeParse(value);
  if (r.success) throw new Error("expected a failure");
  return r.error.issues[0]!.message;
}

test("zod's default messages read as plain predicates", (t) => {
  const cases: [z.ZodType, unknown, string][] = [
    [z.string().min(1), "", "must not be empty"],
    [z.string().min(8), "short", "must be at least 8 characters long"],
    [z.string().max(3), "long", "must be at most 3 characters long"],
    [z.number().min(1), 0, "must be at least 1"],
    [z.number().gt(0), 0, "must be greater than 0"],
    [z.number().max(1), 2, "must be at most 1"],
    [z.number().lt(1), 1, "must be less than 1"],
    [z.number().int(), 1.5, "must be a whole number"],
    [z.number(), "x", "must be a number"],
    [z.number(), undefined, "is required"],
    [z.boolean(), "yes", "must be true or false"],
    [z.email(), "x", "must be an email address, such as ada@example.com"],
    [z.enum(["cleanrl", "zoo"]), "nope", "must be one of cleanrl, zoo"],
    [z.array(z.number()).min(1), [], "must list at least 1 item"],
  ];
  for (const [schema, value, plain] of cases) {
    const raw = messageOf(schema, value);
    t.is(plainFieldMessage(raw), plain, raw);
  }
});

test("a message of the API's own is kept", (t) => {
  t.is(plainFieldMessage("must divide numEnvs × numSteps = 128"), "must divide numEnvs × numSteps = 128");
  t.is(plainFieldMessage("must be a valid email address"), "must be a valid email address");
});
