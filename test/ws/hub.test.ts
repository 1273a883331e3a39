import { randomUUID } from "node:crypto";
import { once } from "node:events";
import type { Socket } from "node:net";
import test from "ava";
import { useTestPlatform } from "../helpers/platform.ts";
import { addTableRunsService, metricsEvent, type RunTable, startHub, TestSocket } from "./helpers.ts";

/**
 * The hub's protections against peers that stop reading or answering, checked on a hub of its own
 * (small thresholds, a heartbeat the test drives) served by its own HTTP server, with the platform's real broker,
 * users service and test runs table behind it.
 */
const platform = useTestPlatform(test, { SERVICES: "api,users,tickets" });
const table: RunTable = { runs: new Map() };
let runsService: Promise<void> | undefined;
test.beforeEach(async () => {
  runsService ??= addTableRunsService(platform().platform.broker, table);
  await runsService;
});

function rawSocket(socket: TestSocket): Socket {
  return (socket.ws as unknown as { _socket: Socket })._socket;
}

test("a subscriber that stops reading is dropped instead of buffered without bound", async (t) => {
  const { hub, url } = await startHub(platform(), t, { maxBufferedBytes: 64 * 1024 });
  const me = await platform().learner();
  const runId = randomUUID();
  table.runs.set(runId, { ownerId: me.user.id, status: "running", points: [] });
  const slow = await TestSocket.withToken(url, me.tokens.accessToken);
  const healthy = await TestSocket.withToken(url, me.tokens.accessToken);
  t.like(await slow.subscribe(runId), { type: "subscribed" });
  t.like(await healthy.subscribe(runId), { type: "subscribed" });

  rawSocket(slow).pause();
  // ~4 KiB frames: 8,000 of them (~32 MiB) outgrow any loopback socket buffer.
  const padding = Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`custom/metric_${i}`, i]));
  const frames = 8_000;
  for (let i = 1; i <= frames && hub.stats().dropped.slow === 0; i++) {
    hub.publishMetrics({ ...metricsEvent(runId, me.user.id, i), metrics: padding });
    if (i % 100 === 0) await new Promise((r) => setImmediate(r));
  }
  t.is(hub.stats().dropped.slow, 1);
  t.is(hub.stats().openSockets, 1);
  rawSocket(slow).resume();
  t.is((await slow.closed).code, 1006);

  // The reader that kept up still gets every point.
  await healthy.next((m) => m["type"] === "metrics" && m["iteration"] === 1);
  hub.publishMetrics(metricsEvent(runId, me.user.id, frames + 1));
  await healthy.next((m) => m["type"] === "metrics" && m["iteration"] === frames + 1);
  healthy.close();
});

test("a peer that has not answered a ping by the next beat is terminated; one that answers stays", async (t) => {
  // The test beats the heart itself (the interval would fire only after an hour): on a loaded machine
  // an interval can fire twice before the event loop reads a pong that has already arrived.
  const { hub, url } = await startHub(platform(), t, { heartbeatMs: 3_600_000 });
  const me = await platform().learner();
  const responsive = await TestSocket.withToken(url, me.tokens.accessToken);
  const silent = await TestSocket.withToken(url, me.tokens.accessToken);
  rawSocket(silent).pause();
  const dead: number[] = [];
  for (let beat = 1; beat <= 4; beat++) {
    const pinged = once(responsive.ws, "ping");
    hub.beat();
    await pinged;
    await answered(responsive);
    dead.push(hub.stats().dropped.dead);
  }
  t.deepEqual(dead, [0, 1, 1, 1], "the silent peer is terminated at the second beat");
  t.is(hub.stats().openSockets, 1);
  t.is(responsive.ws.readyState, responsive.ws.OPEN);
  responsive.close();
  silent.close();
});

/**
 * A round trip on the socket: the client's pong (ws sends it as the ping arrives) went out before
 * this message on the same connection, so by the hub's answer the hub has read the pong too.
 */
async function answered(socket: TestSocket): Promise<void> {
  const reply = await socket.subscribe(randomUUID());
  if (reply["type"] !== "error") throw new Error(`unexpected reply ${JSON.stringify(reply)}`);
}

test("closing the hub closes its sockets with 1001 and refuses new upgrades", async (t) => {
  const { hub, url } = await startHub(platform(), t, {});
  const me = await platform().learner();
  const socket = await TestSocket.withToken(url, me.tokens.accessToken);
  await hub.close();
  t.is((await socket.closed).code, 1001);
  await t.throwsAsync(TestSocket.withToken(url, me.tokens.accessToken), { message: /503/ });
});
