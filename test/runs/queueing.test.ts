import test from "ava";
import { call } from "../../services/actions.ts";
import { useTestPlatform } from "../helpers/platform.ts";
import { waitFor } from "../helpers/wait.ts";
import { accountWithRole, getRun, launch, RUN_SERVICES, tinyRun, waitForStatus } from "./helpers.ts";

const api = useTestPlatform(test, { ...RUN_SERVICES, WORKER_SLOTS: "2" });

/** Calls of `action` this process has served, from Moleculer's own request counter. */
function handled(action: string): number {
  const total = api().platform.broker.metrics.getMetric("moleculer.request.total");
  const counts = (total?.snapshot() ?? []) as { labels: Record<string, unknown>; value: number }[];
  return counts
    .filter((c) => c.labels["action"] === action && c.labels["type"] === "local")
    .reduce((n, c) => n + c.value, 0);
}

test.serial(
  "a run with no free worker slots waits in queued and starts when slots free up; a node never hosts more runners than slots",
  async (t) => {
    const me = await accountWithRole(api(), "researcher");
    const big = await launch(api(), me.token, tinyRun(500, { resources: { runners: 2 } }));
    await waitFor(
      () => getRun(api(), me.token, big.id),
      (r) => r.iteration >= 1,
      "the first run to iterate",
    );
    const asked = handled("workers.status");
    const waiting = await launch(api(), me.token, tinyRun(2));
    // At each look the CPU pool's scheduler asks the workers for free slots while a run waits
    // (nothing else here asks): its third question means that two looks found none and left it queued.
    await waitFor(
      () => handled("workers.status"),
      (n) => n >= asked + 3,
      "two scheduling passes of the waiting run",
    );
    t.is((await getRun(api(), me.token, waiting.id)).status, "queued");
    const status = await call(api().platform.broker, "workers.status", {});
    t.is(status.free, 0);
    t.is(status.runners.length, 2);

    await api().request("POST", `/api/v1/runs/${big.id}/stop`, { token: me.token });
    await waitForStatus(api(), me.token, big.id, ["stopped"]);
    const done = await waitForStatus(api(), me.token, waiting.id, ["completed", "failed"]);
    t.is(done.status, "completed");
  },
);

test.serial("a queued run can be stopped before it ever starts", async (t) => {
  const me = await accountWithRole(api(), "researcher");
  const big = await launch(api(), me.token, tinyRun(500, { resources: { runners: 2 } }));
  await waitFor(
    () => getRun(api(), me.token, big.id),
    (r) => r.status === "running",
    "running",
  );
  const waiting = await launch(api(), me.token, tinyRun(2));
  const stop = await api().request<{ status: string }>("POST", `/api/v1/runs/${waiting.id}/stop`, {
    token: me.token,
  });
  t.is(stop.body.status, "stopped");
  await api().request("POST", `/api/v1/runs/${big.id}/stop`, { token: me.token });
  await waitForStatus(api(), me.token, big.id, ["stopped"]);
  t.is((await getRun(api(), me.token, waiting.id)).iteration, 0);
});
