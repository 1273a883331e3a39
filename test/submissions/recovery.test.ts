import test from "ava";
import pg from "pg";
import type { UserProgress } from "../../contracts/submissions.ts";
import { codeHash } from "../../services/submissions/store.ts";
import { SOLUTIONS } from "../exercises/solutions.ts";
import { createTestDatabase } from "../helpers/db.ts";
import { startTestPlatform } from "../helpers/platform.ts";
import { waitFor } from "../helpers/wait.ts";
import { getSubmission, graded, SUBMISSION_SERVICES, submit } from "./helpers.ts";

/**
 * Restart recovery. A submission left `queued` is graded after the restart (by its own node when it
 * comes back, or by another node once its node is gone); one left `running` is marked `error`, since
 * the code being graded may be what stopped the process. Rows are written as a crashed node leaves
 * them, while no submissions service runs.
 */
test("after a restart, queued submissions are graded and interrupted ones are errors, progress included", async (t) => {
  const database = await createTestDatabase();
  t.teardown(() => database.drop());
  const services = {
    ...SUBMISSION_SERVICES,
    NODE_ID: "submissions-node-a",
    SUBMISSIONS_RECOVERY_INTERVAL_MS: "200",
  };

  const first = await startTestPlatform(t, services, { database });
  const learner = await first.learner();
  await first.stop();

  const code = SOLUTIONS["discounted-returns"]!;
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  const insert = async (status: string, ownerNode: string): Promise<string> => {
    const { rows } = await client.query<{ id: string }>(
      `insert into submissions (id, user_id, exercise_id, exercise_version, code, code_hash, status, max_score,
         tests, owner_node, created_at, started_at)
       values (gen_random_uuid(), $1, 'discounted-returns', 1, $2, $3, $4, 10, '[]', $5, now(),
         case when $4 = 'running' then now() end)
       returning id`,
      [learner.user.id, code, codeHash(code), status, ownerNode],
    );
    return rows[0]!.id;
  };
  // This node's own, and those of a node that died and never came back.
  const ownQueued = await insert("queued", "submissions-node-a");
  const ownRunning = await insert("running", "submissions-node-a");
  const goneQueued = await insert("queued", "submissions-node-gone");
  const goneRunning = await insert("running", "submissions-node-gone");
  await client.end();

  const second = await startTestPlatform(t, services, { database });
  const token = (await second.login(learner.email, learner.password)).accessToken;
  for (const id of [ownQueued, goneQueued]) {
    const s = await graded(second, token, id);
    t.is(s.status, "passed", id);
    t.is(s.score, 10);
  }
  for (const id of [ownRunning, goneRunning]) {
    const s = await graded(second, token, id);
    t.is(s.status, "error", id);
    t.regex(s.error ?? "", /grading was interrupted/);
    t.truthy(s.finishedAt);
  }
  // A queued row of this very node that it does not hold (its enqueue was lost) is found by the scan.
  const late = new pg.Client({ connectionString: database.url });
  await late.connect();
  const { rows: orphan } = await late.query<{ id: string }>(
    `insert into submissions (id, user_id, exercise_id, exercise_version, code, code_hash, status, max_score,
       tests, owner_node, created_at)
     values (gen_random_uuid(), $1, 'discounted-returns', 1, $2, $3, 'queued', 10, '[]', 'submissions-node-a', now())
     returning id`,
    [learner.user.id, code, codeHash(code)],
  );
  await late.end();
  t.is((await graded(second, token, orphan[0]!.id)).status, "passed");

  const progress = await second.request<UserProgress>("GET", "/api/v1/me/progress", { token });
  t.like(progress.body.exercises[0], {
    exerciseId: "discounted-returns",
    attempts: 5,
    passed: true,
    bestScore: 10,
  });
});

test("a grade and the progress it changes are committed together, and only once", async (t) => {
  const api = await startTestPlatform(t, { SERVICES: "api,users" });
  const learner = await api.learner();
  const orm = api.platform.db.orm;
  const code = SOLUTIONS["gae"]!;
  const [{ id }] = await orm.em.fork().execute<{ id: string }[]>(
    `insert into submissions (id, user_id, exercise_id, exercise_version, code, code_hash, status, max_score,
         tests, created_at, started_at)
       values (gen_random_uuid(), ?, 'gae', 1, ?, ?, 'running', 20, '[]', now(), now()) returning id`,
    [learner.user.id, code, codeHash(code)],
  );
  const report = {
    status: "passed" as const,
    score: 20,
    maxScore: 20,
    tests: [],
    console: "",
    consoleTruncated: false,
    runtimeMs: 1,
    cpuTimeMs: 1,
    memoryBytes: 1,
    error: null,
  };
  const { finishSubmission } = await import("../../services/submissions/store.ts");
  const progressRows = () =>
    orm.em
      .fork()
      .execute<{ attempts: number }[]>(`select attempts from exercise_progress where user_id = ?`, [
        learner.user.id,
      ]);

  // The progress write fails (a NOT NULL column left null): the grade is rolled back with it.
  await t.throwsAsync(
    finishSubmission(orm, id!, ["running"], { ...report, maxScore: null as unknown as number }),
  );
  const [still] = await orm.em
    .fork()
    .execute<{ status: string }[]>(`select status from submissions where id = ?`, [id]);
  t.is(still!.status, "running");
  t.deepEqual(await progressRows(), []);

  t.truthy(await finishSubmission(orm, id!, ["running"], report));
  // A second finish (a recovery racing the grader) changes nothing.
  t.is(await finishSubmission(orm, id!, ["running"], { ...report, status: "error", score: 0 }), null);
  t.deepEqual(await progressRows(), [{ attempts: 1 }]);
});

test("a training grading cut short by a shutdown goes back to the queue and is graded after the restart", async (t) => {
  const database = await createTestDatabase();
  t.teardown(() => database.drop());
  const services = { ...SUBMISSION_SERVICES, NODE_ID: "submissions-node-b" };
  const first = await startTestPlatform(t, services, { database });
  const learner = await first.learner();
  const token = learner.tokens.accessToken;
  const s = await submit(first, token, "mountain-car-shaping", SOLUTIONS["mountain-car-shaping"]!);
  await waitFor(
    () => getSubmission(first, token, s.id),
    (x) => x.status === "running",
    "running",
  );
  await first.stop();

  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  const { rows } = await client.query<{ status: string }>("select status from submissions where id = $1", [
    s.id,
  ]);
  await client.end();
  t.is(rows[0]!.status, "queued");

  const second = await startTestPlatform(t, services, { database });
  const again = (await second.login(learner.email, learner.password)).accessToken;
  t.is((await graded(second, again, s.id, 120_000)).status, "passed");
});
