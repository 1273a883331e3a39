import test from "ava";
import type { PublicSubmission } from "../../contracts/submissions.ts";
import { SOLUTIONS } from "../exercises/solutions.ts";
import { useTestPlatform } from "../helpers/platform.ts";
import { graded, SUBMISSION_SERVICES, sandboxPool } from "./helpers.ts";

// Five submissions per user per minute; the concurrency quota is out of the way here (api.test.ts
// checks it), so that the per-minute count alone decides, whatever the grading speed.
const platform = useTestPlatform(test, {
  ...SUBMISSION_SERVICES,
  QUOTA_LEARNER_SUBMISSIONS_PER_MINUTE: "5",
  SUBMISSIONS_CONCURRENT_PER_USER: "100",
});

test("50 simultaneous submissions of one user: 5 accepted, 45 refused with 429 and Retry-After", async (t) => {
  const api = platform();
  const { tokens } = await api.learner();
  const token = tokens.accessToken;
  const responses = await Promise.all(
    Array.from({ length: 50 }, () =>
      api.request<PublicSubmission & { detail?: string }>(
        "POST",
        "/api/v1/exercises/discounted-returns/submissions",
        {
          token,
          body: { code: SOLUTIONS["discounted-returns"] },
        },
      ),
    ),
  );
  const accepted = responses.filter((r) => r.status === 202);
  const refused = responses.filter((r) => r.status === 429);
  t.is(accepted.length, 5);
  t.is(refused.length, 45);
  for (const r of refused) {
    t.true(r.headers.get("content-type")!.startsWith("application/problem+json"));
    const retryAfter = Number(r.headers.get("retry-after"));
    t.true(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, String(retryAfter));
    t.regex(r.body.detail ?? "", /at most 5 submissions per minute/);
  }
  for (const r of accepted) t.is((await graded(api, token, r.body.id)).status, "passed");
});

test("submissions of 30 learners at once are all graded by a pool of two processes", async (t) => {
  const api = platform();
  const learners = await Promise.all(Array.from({ length: 30 }, () => api.learner()));
  const exercises = ["gae", "clipped-surrogate-loss", "clipped-value-loss"] as const;
  const submissions = await Promise.all(
    learners.map(async (l, i) => {
      const exerciseId = exercises[i % exercises.length]!;
      const res = await api.request<PublicSubmission>("POST", `/api/v1/exercises/${exerciseId}/submissions`, {
        token: l.tokens.accessToken,
        body: { code: SOLUTIONS[exerciseId] },
      });
      t.is(res.status, 202);
      return { token: l.tokens.accessToken, id: res.body.id };
    }),
  );
  const pool = await sandboxPool(api);
  t.is(pool.size, 2);
  t.true(pool.pids.length <= 2);
  const results = await Promise.all(submissions.map((s) => graded(api, s.token, s.id, 120_000)));
  t.deepEqual(
    results.map((r) => r.status),
    results.map(() => "passed"),
  );
});

test("an admin's override of submissionsPerMinute governs the learner's next submission", async (t) => {
  const api = platform();
  const learner = await api.learner();
  const token = learner.tokens.accessToken;
  const admin = (await api.loginAdmin()).accessToken;
  const quotas = `/api/v1/users/${learner.user.id}/quotas`;
  const submit = () =>
    api.request<PublicSubmission & { detail?: string }>(
      "POST",
      "/api/v1/exercises/discounted-returns/submissions",
      { token, body: { code: SOLUTIONS["discounted-returns"] } },
    );
  t.is((await api.request("PUT", quotas, { token: admin, body: { submissionsPerMinute: 2 } })).status, 200);
  t.is((await submit()).status, 202);
  t.is((await submit()).status, 202);
  const third = await submit();
  t.is(third.status, 429);
  t.regex(third.body.detail ?? "", /this account may make at most 2 submissions per minute/);
  // Raised: the very next one is accepted, within the same minute.
  t.is((await api.request("PUT", quotas, { token: admin, body: { submissionsPerMinute: 3 } })).status, 200);
  t.is((await submit()).status, 202);
});
