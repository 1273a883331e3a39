import test from "ava";
import type { PublicRun } from "../../contracts/runs.ts";
import { useTestPlatform } from "../helpers/platform.ts";
import { RUN_DEADLINE_MS, waitFor } from "../helpers/wait.ts";
import {
  accountWithRole,
  getRun,
  holdWorkerSlots,
  launch,
  RUN_SERVICES,
  tinyRun,
  waitForStatus,
} from "./helpers.ts";

const api = useTestPlatform(test, { ...RUN_SERVICES, WORKER_SLOTS: "4" });

/** When the scheduler granted each run its slots, and when it ended, from the runs' rows (ms). */
async function grants(ids: readonly string[]): Promise<Map<string, { granted: number; finished: number }>> {
  const rows = await api()
    .platform.db.orm.em.fork()
    .getConnection()
    .execute<{ id: string; granted: number; finished: number }[]>(
      `select "id", (extract(epoch from "granted_at") * 1000)::float8 as "granted",
              (extract(epoch from "finished_at") * 1000)::float8 as "finished"
         from "runs" where "id" = any(?::uuid[])`,
      [`{${ids.join(",")}}`],
    );
  return new Map(rows.map((r) => [r.id, { granted: r.granted, finished: r.finished }]));
}

test.serial(
  "fair share: 3 users, a pool of 4 slots, A queues 6 runs first, then B and C one each: B's and C's runs start before A's third, every run completes, and no slot idles while a queued run fits",
  async (t) => {
    const [a, b, c] = await Promise.all([
      accountWithRole(api(), "researcher"),
      accountWithRole(api(), "researcher"),
      accountWithRole(api(), "researcher"),
    ]);
    // Every slot held first: the runs below all queue, in the order they are launched.
    const holder = await holdWorkerSlots(api());
    const aRuns: PublicRun[] = [];
    for (let i = 0; i < 6; i++) aRuns.push(await launch(api(), a!.token, tinyRun(3)));
    const bRun = await launch(api(), b!.token, tinyRun(3));
    const cRun = await launch(api(), c!.token, tinyRun(3));

    // While queued, each run shows its place and why, as the API answers it.
    const shown = await waitFor(
      () => getRun(api(), b!.token, bRun.id),
      (r) => r.queue !== null && r.queue.position === 2,
      "B's run to show its place in the queue",
    );
    t.is(shown.status, "queued");
    t.like(shown.queue, { pool: "cpu", position: 2, runners: 1, ownerSlots: 0, poolSlots: 4, freeSlots: 0 });
    t.is(shown.queue?.reason, "2nd for 1 CPU runner; your share 0 of 4 slots; 0 slots free");
    const third = await waitFor(
      () => getRun(api(), a!.token, aRuns[2]!.id),
      (r) => r.queue?.position === 5,
      "A's third run to show its place",
    );
    t.is(third.queue?.reason, "5th for 1 CPU runner; your share 0 of 4 slots; 0 slots free");

    await holder.release();
    const all = [...aRuns, bRun, cRun];
    for (const [i, r] of all.entries()) {
      const token = i < 6 ? a!.token : i === 6 ? b!.token : c!.token;
      const done = await waitForStatus(
        api(),
        token,
        r.id,
        ["completed", "failed", "stopped"],
        RUN_DEADLINE_MS,
      );
      t.is(done.status, "completed", `run ${i} completes`);
      t.is(done.queue, null);
    }

    const g = await grants(all.map((r) => r.id));
    const at = (r: PublicRun) => g.get(r.id)!.granted;
    // The slots freed by the holder went out in one decision (one transaction: one granted_at):
    // A's first, then B's and C's (shares 0 < A's 1), then A's second. A's third waited for a slot.
    const firstWave = all.filter((r) => at(r) === at(aRuns[0]!));
    t.deepEqual(
      firstWave.map((r) => r.id).sort(),
      [aRuns[0]!.id, bRun.id, cRun.id, aRuns[1]!.id].sort(),
      "the four free slots went to A's first, B's, C's and A's second run at once",
    );
    t.true(at(bRun) < at(aRuns[2]!) && at(cRun) < at(aRuns[2]!), "B and C started before A's third");
    // A's later runs in FIFO order, each once a slot had freed up.
    for (let i = 3; i < 6; i++) t.true(at(aRuns[i - 1]!) <= at(aRuns[i]!), `A's run ${i + 1} after run ${i}`);
    // Never more than the pool's 4 slots granted to unfinished runs at once.
    for (const r of all) {
      const moment = at(r);
      const holding = all.filter((o) => at(o) <= moment && g.get(o.id)!.finished > moment).length;
      t.true(holding <= 4, `${holding} runs held slots at the grant of ${r.id}`);
    }
    // No slot idled while a run waited: each grant after the first wave came after a run ended.
    const finishes = all.map((r) => g.get(r.id)!.finished);
    for (const r of aRuns.slice(2))
      t.true(
        finishes.some((f) => f <= at(r)),
        "granted once a slot freed",
      );
  },
);

test.serial(
  "a GPU run waits in the GPU pool, which has no worker here: the reason says so, and CPU runs are not held up by it",
  async (t) => {
    const me = await accountWithRole(api(), "researcher");
    const gpuRun = await launch(api(), me.token, tinyRun(2, { resources: { gpu: true } }));
    const waiting = await waitFor(
      () => getRun(api(), me.token, gpuRun.id),
      (r) => r.queue !== null,
      "the GPU run's place",
    );
    t.like(waiting.queue, { pool: "gpu", position: 1, poolSlots: 0 });
    t.is(waiting.queue?.reason, "1st for 1 GPU runner; your share 0 of 0 slots; no GPU worker is up");
    const cpuRun = await launch(api(), me.token, tinyRun(2));
    t.is(
      (await waitForStatus(api(), me.token, cpuRun.id, ["completed", "failed"], RUN_DEADLINE_MS)).status,
      "completed",
    );
    await api().request("POST", `/api/v1/runs/${gpuRun.id}/stop`, { token: me.token });
    t.is((await getRun(api(), me.token, gpuRun.id)).queue, null);
  },
);
