import type { PublicSubmission } from "../../contracts/submissions.ts";
import { call } from "../../services/actions.ts";
import type { TestPlatform } from "../helpers/platform.ts";
import { waitFor } from "../helpers/wait.ts";

/** Shared by the submissions tests: the services they need, submitting and waiting for a grade. */
export const SUBMISSION_SERVICES = {
  SERVICES: "api,users,submissions",
  SUBMISSIONS_POOL_SIZE: "2",
} as const;

export const FINAL = ["passed", "failed", "error"] as const;

export async function submit(
  api: TestPlatform,
  token: string,
  exerciseId: string,
  code: string,
): Promise<PublicSubmission> {
  const res = await api.request<PublicSubmission>("POST", `/api/v1/exercises/${exerciseId}/submissions`, {
    token,
    body: { code },
  });
  if (res.status !== 202) throw new Error(`submit: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

export function getSubmission(api: TestPlatform, token: string, id: string): Promise<PublicSubmission> {
  return api.request<PublicSubmission>("GET", `/api/v1/submissions/${id}`, { token }).then((r) => {
    if (r.status !== 200) throw new Error(`GET submission ${id}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  });
}

/** Polls until the submission is graded (or fails the test after `timeoutMs`). */
export function graded(
  api: TestPlatform,
  token: string,
  id: string,
  timeoutMs = 60_000,
): Promise<PublicSubmission> {
  return waitFor(
    () => getSubmission(api, token, id),
    (s) => (FINAL as readonly string[]).includes(s.status),
    `submission ${id} graded`,
    timeoutMs,
  );
}

/** Submits and waits for the grade. */
export async function submitAndGrade(
  api: TestPlatform,
  token: string,
  exerciseId: string,
  code: string,
): Promise<PublicSubmission> {
  const s = await submit(api, token, exerciseId, code);
  return graded(api, token, s.id);
}

/** A discounted-returns submission whose function never settles: it holds its sandbox until the deadline. */
export const NEVER_SETTLES = "function discountedReturns() { return new Promise(() => {}); }";

/** The sandbox pool of `api`'s node, read in-process (the node must run the submissions service). */
export async function sandboxPool(api: TestPlatform) {
  const { pool } = await call(api.platform.broker, "submissions.stats", {});
  if (!pool) throw new Error("this node runs no sandbox pool");
  return pool;
}
