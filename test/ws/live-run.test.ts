import test from "ava";
import { useTestPlatform } from "../helpers/platform.ts";
import { holdWorkerSlots, launch, metrics, RUN_SERVICES, tinyRun } from "../runs/helpers.ts";
import { type Json, TestSocket } from "./helpers.ts";

/** End to end: a real CartPole run through the API, watched live over the WebSocket. */
const api = useTestPlatform(test, { ...RUN_SERVICES, SERVICES: "api,users,runs,workers,tickets" });

test("a run launched through the API streams its points live, in order, then its completion", async (t) => {
  const me = await api().learner();
  // The run waits in queued until the socket watches it: it cannot have ended before.
  const slots = await holdWorkerSlots(api());
  const run = await launch(api(), me.tokens.accessToken, tinyRun(12));
  const socket = await TestSocket.withToken(api().url, me.tokens.accessToken);
  t.like(await socket.subscribe(run.id), { type: "subscribed", runId: run.id, status: "queued" });
  await slots.release();

  const received: Json[] = [];
  for (;;) {
    const message = await socket.next();
    if (message["type"] === "metrics") received.push(message);
    if (message["type"] === "status" && message["status"] === "completed") break;
    t.not(message["type"], "error");
  }
  const iterations = received.map((m) => m["iteration"] as number);
  t.true(iterations.length > 0);
  // The first point is the latest stored one at subscription time, then every later iteration once.
  for (let i = 1; i < iterations.length; i++) t.is(iterations[i], iterations[i - 1]! + 1);

  const stored = await metrics(api(), me.tokens.accessToken, run.id);
  t.is(iterations.at(-1), stored.at(-1)!.iteration);
  for (const message of received) {
    const same = stored.find((p) => p.iteration === message["iteration"]);
    t.deepEqual(message["metrics"], same?.metrics);
    t.is(message["globalStep"], same?.globalStep);
  }
  socket.close();
});
