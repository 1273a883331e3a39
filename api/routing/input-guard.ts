import { isStorableText } from "../../lib/cursor.ts";
import type { FieldProblem } from "../../lib/errors.ts";

/**
 * What every route refuses before its own schema looks at the input, so that no route has to
 * remember it (issue 15, finding 7: a NUL byte in a name was a 500):
 *
 * - text, keys included, that PostgreSQL text and jsonb cannot hold as sent: a NUL character
 *   (`invalid byte sequence for encoding "UTF8": 0x00`, and jsonb's `unsupported Unicode escape
 *   sequence`), or a lone UTF-16 surrogate (no UTF-8 form: it would silently become U+FFFD);
 * - numbers that are not finite (`1e400` parses to Infinity, which JSON.stringify writes as null);
 * - nesting deeper than MAX_INPUT_DEPTH: nothing the API accepts is deeper than a sweep's
 *   `searchSpace.key.values[i][j]`, and the recursive JSON.stringify and structured clones that a
 *   document meets later would overflow the stack on a body of a million brackets.
 *
 * The walk is iterative, so that the guard itself cannot overflow on what it is there to refuse.
 */
export const MAX_INPUT_DEPTH = 32;

/** Problems found in `value`, each named like the schema's own (`name`, `items.0`, `query.cursor`). */
export function unsafeInputProblems(value: unknown, where: "query" | "body" | "params"): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const name = (path: readonly string[]) => {
    const joined = path.join(".");
    return where === "body" ? joined || "body" : joined ? `${where}.${joined}` : where;
  };
  const stack: { value: unknown; path: string[] }[] = [{ value, path: [] }];
  while (stack.length > 0 && problems.length < 20) {
    const { value: v, path } = stack.pop()!;
    if (typeof v === "string") {
      if (!isStorableText(v)) problems.push({ field: name(path), message: TEXT_MESSAGE });
    } else if (typeof v === "number") {
      if (!Number.isFinite(v)) problems.push({ field: name(path), message: "must be a finite number" });
    } else if (typeof v === "object" && v !== null) {
      if (path.length >= MAX_INPUT_DEPTH) {
        problems.push({ field: name(path), message: `is nested deeper than ${MAX_INPUT_DEPTH} levels` });
        continue;
      }
      for (const [key, child] of Object.entries(v)) {
        if (!isStorableText(key)) {
          problems.push({ field: name(path), message: KEY_MESSAGE });
          continue;
        }
        stack.push({ value: child, path: [...path, key] });
      }
    }
  }
  return problems;
}

const TEXT_MESSAGE = "must not contain NUL characters or unpaired UTF-16 surrogates";
const KEY_MESSAGE = "has a key with a NUL character or an unpaired UTF-16 surrogate";
