import test from "ava";
import { RESUMABLE_STATUSES, type RunStatus, STOP_TRANSITIONS } from "../../contracts/run-status.ts";
import type { PublicRun } from "../../contracts/runs.ts";
import { call } from "../../services/actions.ts";
import { useTestPlatform } from "../helpers/platform.ts";
import { allowLongTest, waitFor } from "../helpers/wait.ts";
import { getRun, launch, RUN_SERVICES, tinyRun, waitForStatus } from "../runs/helpers.ts";

// The pairs of requests and the polls of 10 runs exceed the per-address request rate (1,200 a minute)
// on a slow machine; this test is about races, not rate limits.
const api = useTestPlatform(test, { ...RUN_SERVICES, WORKER_SLOTS: "4", API_RATE_LIMIT_PER_MIN: "1000000" });

type Op = "stop" | "resume" | "delete";
type Start = "running" | "stopped";
const REPS = 5;

const send = (token: string, id: string, op: Op) =>
  op === "delete"
    ? api().request("DELETE", `/api/v1/runs/${id}`, { token })
    : api().request<PublicRun>("POST", `/api/v1/runs/${id}/${op}`, { token });

/** Whether `op` is allowed on a run in `status` (null: deleted), and the status it leaves. */
function serial(op: Op, status: string | null): { ok: boolean; next: string | null } {
  if (status === null) return { ok: false, next: null };
  if (op === "delete") return { ok: true, next: null };
  // A queued run stops at once (a resume's run is queued until its actor starts it), a running one
  // is asked to: contracts/run-status.ts STOP_TRANSITIONS, which this oracle once left out for queued.
  if (op === "stop") {
    const next = STOP_TRANSITIONS[status as RunStatus];
    return next ? { ok: true, next } : { ok: false, next: status };
  }
  return (RESUMABLE_STATUSES as readonly string[]).includes(status)
    ? { ok: true, next: "queued" }
    : { ok: false, next: status };
}

async function startIn(token: string, start: Start): Promise<string> {
  const run = await launch(api(), token, tinyRun(100_000));
  await waitFor(
    () => getRun(api(), token, run.id),
    (r) => r.iteration >= 1,
    "the run running",
  );
  if (start === "stopped") {
    ensure((await send(token, run.id, "stop")).status === 200, "stop");
    await waitForStatus(api(), token, run.id, ["stopped"]);
  }
  return run.id;
}

function ensure(cond: boolean, what: string): void {
  if (!cond) throw new Error(`setup failed: ${what}`);
}

const PAIRS: [Op, Op][] = [
  ["stop", "stop"],
  ["resume", "resume"],
  ["delete", "delete"],
  ["stop", "resume"],
  ["stop", "delete"],
  ["resume", "delete"],
];

for (const start of ["running", "stopped"] as const) {
  test(`stop, resume and delete sent concurrently in pairs to a ${start} run, ${REPS} times each: the winners form a serial history, the losers get 409 problem+json, and the run ends in a sound state`, async (t) => {
    // 30 runs started, raced and cleaned up: past ava's 120 s inactivity limit on a loaded machine.
    allowLongTest(t);
    const admin = (await api().loginAdmin()).accessToken;
    for (const [x, y] of PAIRS) {
      for (let rep = 0; rep < REPS; rep++) {
        const id = await startIn(admin, start);
        const [rx, ry] = await Promise.all([send(admin, id, x), send(admin, id, y)]);
        const label = `${x}+${y} on ${start} (#${rep}): ${rx.status}/${ry.status}`;
        for (const r of [rx, ry]) {
          t.true([200, 204, 404, 409].includes(r.status), label);
          if (r.status >= 400)
            t.regex(r.headers.get("content-type") ?? "", /application\/problem\+json/, label);
        }
        const won = [rx.status < 300, ry.status < 300];
        // Some serial order of the two explains the winners: in it, each winner was allowed when it ran.
        const explained = (
          [
            [x, y, won[0], won[1]],
            [y, x, won[1], won[0]],
          ] as const
        ).some(([first, second, firstWon, secondWon]) => {
          const a = serial(first, start);
          if (firstWon !== a.ok) return false;
          const b = serial(second, a.ok ? a.next : start);
          return !secondWon || b.ok;
        });
        t.true(explained, `no serial order explains ${label}`);
        const someoneMayWin = serial(x, start).ok || serial(y, start).ok;
        if (someoneMayWin) t.true(won[0] || won[1], `nobody won: ${label}`);
        if (x === y && someoneMayWin)
          t.is(won.filter(Boolean).length, 1, `exactly one of two ${x}s wins: ${label}`);
        const deleted = (x === "delete" && won[0]) || (y === "delete" && won[1]);
        const now = await api().request<PublicRun>("GET", `/api/v1/runs/${id}`, { token: admin });
        if (deleted) {
          t.is(now.status, 404, label);
          const rows = await api()
            .platform.db.orm.em.getConnection()
            .execute<{ n: number }[]>(`select count(*)::int as n from "metric_points" where "run_id" = ?`, [
              id,
            ]);
          t.is(rows[0]!.n, 0, `a deleted run has no points left: ${label}`);
        } else {
          t.is(now.status, 200, label);
          // Sound: the run settles in a status its history allows, then is cleaned up.
          const settled = await waitForStatus(api(), admin, id, ["running", "stopped"]);
          const stopWon = (x === "stop" && won[0]) || (y === "stop" && won[1]);
          const resumeWon = (x === "resume" && won[0]) || (y === "resume" && won[1]);
          const expected =
            start === "running" ? (stopWon ? "stopped" : "running") : resumeWon ? "running" : "stopped";
          t.is(settled.status, expected, label);
          t.is((await send(admin, id, "delete")).status, 204);
        }
      }
    }
    await waitFor(
      async () => (await call(api().platform.broker, "workers.status", {})).runners.length,
      (n) => n === 0,
      "every runner released",
    );
    t.pass();
  });
}
