import { readFile } from "node:fs/promises";
import { FINAL_SUBMISSION_STATUSES, type PublicSubmission } from "../../contracts/submissions.ts";
import { type CommandSpec, type OptionTable, parseCommand, usageLine } from "../command.ts";
import { RemoteClient, reportError } from "./client.ts";

/**
 * `proxima submit EXERCISE FILE.js`: submits code for an exercise, waits for its grade and prints
 * the result of every test. Exit code 0 when the submission passed, 1 otherwise.
 */
export const SUBMIT = {
  name: "proxima submit",
  summary: "Submits code for an exercise, waits for its grade and prints the result of every test.",
  args: "<exercise> <file.js>",
  options: { json: { type: "boolean", description: "print the graded submission as one JSON line" } },
  notes: "Exit code 0 when the submission passed, 1 otherwise. `proxima login` first.",
} satisfies CommandSpec<OptionTable>;

const USAGE = `usage: ${usageLine(SUBMIT)}\n`;

/** The API's own shape (contracts/submissions.ts), never a copy that could drift. */
type Submission = PublicSubmission;

const GRADED: ReadonlySet<string> = new Set(FINAL_SUBMISSION_STATUSES);
/** Grading takes from milliseconds (a function) to minutes (a training exercise). */
const POLL_MS = 300;

export async function run(argv: string[]): Promise<number> {
  let values: { json?: boolean };
  let positionals: string[];
  try {
    const parsed = parseCommand(SUBMIT, argv);
    if (!parsed) return 0;
    ({ values, positionals } = parsed);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (positionals.length !== 2) {
    process.stderr.write(USAGE);
    return 2;
  }
  const [exercise, file] = positionals as [string, string];
  let code: string;
  try {
    code = await readFile(file, "utf8");
  } catch (err) {
    process.stderr.write(`proxima submit: cannot read ${file}: ${(err as NodeJS.ErrnoException).code}\n`);
    return 1;
  }
  try {
    const client = await RemoteClient.fromStore();
    let submission = await client.post<Submission>(
      `/api/v1/exercises/${encodeURIComponent(exercise)}/submissions`,
      { code },
    );
    if (!values.json) process.stderr.write(`Submitted ${submission.id}; grading…\n`);
    while (!GRADED.has(submission.status)) {
      await new Promise((r) => setTimeout(r, POLL_MS));
      submission = await client.get<Submission>(`/api/v1/submissions/${submission.id}`);
    }
    if (values.json) {
      process.stdout.write(`${JSON.stringify(submission)}\n`);
    } else {
      for (const t of submission.tests) {
        const mark = t.passed ? "✓" : "✗";
        const detail = t.passed ? "" : `: ${t.message}`;
        process.stdout.write(
          `${mark} ${t.name}${t.hidden ? " (hidden)" : ""}${t.scored === false ? " (example, not scored)" : ""}${detail} (${t.timeMs.toFixed(0)} ms)\n`,
        );
      }
      if (submission.error) process.stdout.write(`error: ${submission.error}\n`);
      if (submission.console) {
        process.stdout.write(`console output${submission.consoleTruncated ? " (truncated)" : ""}:\n`);
        process.stdout.write(`${submission.console.replace(/\n?$/, "\n")}`);
      }
      process.stdout.write(`${submission.status}: ${submission.score}/${submission.maxScore}\n`);
      if (submission.envId) process.stdout.write(`env id: ${submission.envId} (train on it with --env)\n`);
    }
    return submission.status === "passed" ? 0 : 1;
  } catch (err) {
    return reportError("submit", err);
  }
}
