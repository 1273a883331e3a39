/**
 * What a problem+json 422 (RFC 9457) lists in `errors`: every invalid field of the request at once,
 * each named by its path ("totalSteps", "hyperparameters.learningRate", "resources.runners").
 */
export interface FieldProblem {
  /** JSON pointer-ish path of the offending field, e.g. "hyperparameters.learningRate". */
  field: string;
  message: string;
}

/**
 * The validators' own wording (zod 4's default messages, which both the API's request schemas and
 * the hyperparameter schema give) rewritten for people: "Too small: expected string to have >=1
 * characters" becomes "must not be empty". A message no rule knows is already the API's own
 * sentence ("must divide numEnvs × numSteps = 512") and is kept. The dashboard shows the result
 * under the field's label, the CLI after the field's name.
 */
type Rule = readonly [RegExp, (m: RegExpExecArray) => string];

const unquote = (s: string) => s.trim().replace(/^"(.*)"$/, "$1");
const count = (n: string, one: string, many: string) => `${n} ${n === "1" ? one : many}`;

const RULES: readonly Rule[] = [
  [/^Too small: expected string to have >=1 characters?$/, () => "must not be empty"],
  [
    /^Too small: expected string to have >=(\d+) characters?$/,
    (m) => `must be at least ${count(m[1]!, "character", "characters")} long`,
  ],
  [
    /^Too big: expected string to have <=(\d+) characters?$/,
    (m) => `must be at most ${count(m[1]!, "character", "characters")} long`,
  ],
  [
    /^Too small: expected array to have >=(\d+) items?$/,
    (m) => `must list at least ${count(m[1]!, "item", "items")}`,
  ],
  [
    /^Too big: expected array to have <=(\d+) items?$/,
    (m) => `must list at most ${count(m[1]!, "item", "items")}`,
  ],
  [/^Too small: expected (?:number|int|bigint) to be >=(.+)$/, (m) => `must be at least ${m[1]}`],
  [/^Too small: expected (?:number|int|bigint) to be >(.+)$/, (m) => `must be greater than ${m[1]}`],
  [/^Too big: expected (?:number|int|bigint) to be <=(.+)$/, (m) => `must be at most ${m[1]}`],
  [/^Too big: expected (?:number|int|bigint) to be <(.+)$/, (m) => `must be less than ${m[1]}`],
  [/^Invalid input: expected .+, received undefined$/, () => "is required"],
  [/^Invalid input: expected int, received number$/, () => "must be a whole number"],
  [/^Invalid input: expected (?:number|int|bigint), received \w+$/, () => "must be a number"],
  [/^Invalid input: expected string, received \w+$/, () => "must be text"],
  [/^Invalid input: expected boolean, received \w+$/, () => "must be true or false"],
  [/^Invalid input: expected (?:array|tuple), received \w+$/, () => "must be a list"],
  [/^Invalid input: expected (?:object|record|map), received \w+$/, () => "must be a set of named values"],
  [/^Invalid email address$/, () => "must be an email address, such as ada@example.com"],
  [
    /^Invalid option: expected one of (.+)$/,
    (m) => `must be one of ${m[1]!.split("|").map(unquote).join(", ")}`,
  ],
  [/^Invalid input: expected (".*")$/, (m) => `must be ${unquote(m[1]!)}`],
  [/^Invalid UUID$/, () => "must be an id such as 123e4567-e89b-42d3-a456-426614174000"],
  [/^Invalid (?:URL|url)$/, () => "must be a URL, such as https://example.com"],
  [/^Invalid string: must match pattern .+$/, () => "is not in the expected form"],
  [/^Invalid input$/, () => "is not a valid value"],
  [/^unknown field$/, () => "is not a known field"],
  [/^Unrecognized keys?: .+$/, () => "is not a known field"],
];

/** A validator's message in plain language, as a predicate of the field ("must be at least 1"). */
export function plainFieldMessage(message: string): string {
  for (const [pattern, write] of RULES) {
    const m = pattern.exec(message.trim());
    if (m) return write(m);
  }
  return message;
}
