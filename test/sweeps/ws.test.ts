import test from "ava";
import { useTestPlatform } from "../helpers/platform.ts";
import { accountWithRole, holdWorkerSlots } from "../runs/helpers.ts";
import { type Json, TestSocket } from "../ws/helpers.ts";
import { createSweep, getSweep, SWEEP_SERVICES, tinySweep } from "./helpers.ts";

const api = useTestPlatform(test, SWEEP_SERVICES);

test.serial(
  "a sweep subscriber gets every trial, then each trial's status changes and latest metric, then the sweep's end",
  async (t) => {
    const me = await accountWithRole(api(), "researcher");
    // The sweep's trials wait in queued until the socket watches them: none can have run before.
    const slots = await holdWorkerSlots(api());
    const sweep = await createSweep(api(), me.token, tinySweep(8));
    const socket = await TestSocket.withToken(api().url, me.token);
    socket.send({ type: "subscribe", sweepId: sweep.id });
    const subscribed = await socket.next((m) => m["sweepId"] === sweep.id);
    t.like(subscribed, { type: "subscribed", sweepId: sweep.id });
    await slots.release();

    const latest = new Map<string, Json>();
    const statuses = new Map<string, string[]>();
    for (;;) {
      const m = await socket.next();
      t.not(m["type"], "error", JSON.stringify(m));
      if (m["type"] === "status" && m["sweepId"] === sweep.id && m["status"] === "completed") break;
      if (m["type"] !== "trial") continue;
      const trial = m["trial"] as Json;
      latest.set(trial["id"] as string, trial);
      const seen = statuses.get(trial["id"] as string) ?? [];
      if (seen.at(-1) !== trial["status"]) seen.push(trial["status"] as string);
      statuses.set(trial["id"] as string, seen);
    }
    t.is(latest.size, 4);
    const stored = await getSweep(api(), me.token, sweep.id);
    for (const trial of stored.trials) {
      t.is(statuses.get(trial.id)!.at(-1), "completed");
      t.true(statuses.get(trial.id)!.includes("running"), `${trial.id}: ${statuses.get(trial.id)}`);
      t.like(latest.get(trial.id), {
        status: "completed",
        finalMetric: trial.finalMetric,
        steps: trial.steps,
      });
    }
    socket.close();
  },
);

test("subscribing to another user's sweep is an error, not data", async (t) => {
  const owner = await accountWithRole(api(), "researcher");
  const other = await accountWithRole(api(), "researcher");
  const sweep = await createSweep(api(), owner.token, tinySweep(1));
  const socket = await TestSocket.withToken(api().url, other.token);
  socket.send({ type: "subscribe", sweepId: sweep.id });
  t.like(await socket.next((m) => m["sweepId"] === sweep.id), { type: "error", code: "not_found" });
  socket.send({ type: "subscribe", sweepId: "not-a-uuid" });
  t.like(await socket.next(), { type: "error", code: "bad_message" });
  socket.close();
});
