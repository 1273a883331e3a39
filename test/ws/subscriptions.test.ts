import { randomUUID } from "node:crypto";
import test from "ava";
import { DEFAULT_WS_OPTIONS } from "../../api/ws/hub.ts";
import { RUN_METRICS_EVENT, RUN_STATUS_EVENT } from "../../contracts/runs.ts";
import type { TokenPair } from "../../contracts/users.ts";
import { type RegisteredUser, useTestPlatform } from "../helpers/platform.ts";
import { addTableRunsService, metricsEvent, point, type RunTable, startHub, TestSocket } from "./helpers.ts";

const platform = useTestPlatform(test, { SERVICES: "api,users,tickets" });
const table: RunTable = { runs: new Map() };

// After useTestPlatform's own before hook: ava runs the before hooks of a file concurrently.
let runsService: Promise<void> | undefined;
test.beforeEach(async () => {
  runsService ??= addTableRunsService(platform().platform.broker, table);
  await runsService;
});
const api = platform;

type Learner = RegisteredUser & { tokens: TokenPair };

/** A run of `owner` in the test table with stored points 1..`stored`. */
function runOf(owner: Learner, stored: number): string {
  const runId = randomUUID();
  const points = Array.from({ length: stored }, (_, i) => point(i + 1));
  table.runs.set(runId, { ownerId: owner.user.id, status: "running", points });
  return runId;
}

function publish(runId: string, ownerId: string, iteration: number): Promise<void> {
  return api().platform.broker.broadcast(RUN_METRICS_EVENT, metricsEvent(runId, ownerId, iteration));
}

const isMetrics = (m: Record<string, unknown>) => m["type"] === "metrics";

test("a subscriber gets the run's latest stored point first, then live points in order", async (t) => {
  const me = await api().learner();
  const runId = runOf(me, 3);
  const socket = await TestSocket.withToken(api().url, me.tokens.accessToken);
  t.like(await socket.subscribe(runId), { type: "subscribed", runId, status: "running" });
  const latest = await socket.next(isMetrics);
  t.like(latest, { type: "metrics", runId, iteration: 3, globalStep: 3 * 512 });
  t.deepEqual(latest["metrics"], { "charts/episodic_return": 30 });
  for (const iteration of [4, 5, 6]) await publish(runId, me.user.id, iteration);
  const live = [await socket.next(isMetrics), await socket.next(isMetrics), await socket.next(isMetrics)];
  t.deepEqual(
    live.map((m) => m["iteration"]),
    [4, 5, 6],
  );
  socket.close();
});

test("points broadcast while the latest point is being read come after it, without a duplicate", async (t) => {
  const me = await api().learner();
  const runId = runOf(me, 2);
  const socket = await TestSocket.withToken(api().url, me.tokens.accessToken);
  let open!: () => void;
  let entered!: () => void;
  const inside = new Promise<void>((resolve) => {
    entered = resolve;
  });
  table.gate = {
    entered: (id) => id === runId && entered(),
    open: new Promise<void>((resolve) => {
      open = resolve;
    }),
  };
  try {
    socket.send({ type: "subscribe", runId });
    // The hub is inside runs.metrics: publish a point the stored history already has, and a new one.
    await inside;
    await publish(runId, me.user.id, 2);
    await publish(runId, me.user.id, 3);
  } finally {
    open();
    table.gate = undefined;
  }
  t.like(await socket.next(), { type: "subscribed", runId });
  t.like(await socket.next(), { type: "metrics", iteration: 2 });
  t.like(await socket.next(), { type: "metrics", iteration: 3 });
  await publish(runId, me.user.id, 4);
  t.like(await socket.next(), { type: "metrics", iteration: 4 });
  t.deepEqual(socket.pending(), []);
  socket.close();
});

test("the late broadcast of the point a subscriber started with is not delivered twice", async (t) => {
  const me = await api().learner();
  const runId = runOf(me, 3);
  const socket = await TestSocket.withToken(api().url, me.tokens.accessToken);
  await socket.subscribe(runId);
  t.like(await socket.next(), { type: "metrics", iteration: 3 });
  // The runs service stores a point, then broadcasts it: the broadcast may come after the read.
  await publish(runId, me.user.id, 3);
  await publish(runId, me.user.id, 4);
  t.like(await socket.next(), { type: "metrics", iteration: 4 });
  // Once past it, an older iteration (a resumed run replaying from its checkpoint) is delivered.
  await publish(runId, me.user.id, 2);
  t.like(await socket.next(), { type: "metrics", iteration: 2 });
  t.deepEqual(socket.pending(), []);
  socket.close();
});

test("a run with no stored point yet: subscribed, then live points only", async (t) => {
  const me = await api().learner();
  const runId = runOf(me, 0);
  const socket = await TestSocket.withToken(api().url, me.tokens.accessToken);
  t.like(await socket.subscribe(runId), { type: "subscribed" });
  await publish(runId, me.user.id, 1);
  t.like(await socket.next(), { type: "metrics", iteration: 1 });
  socket.close();
});

test("subscribing to another user's run, or to a run that does not exist, gets an error and no data", async (t) => {
  const me = await api().learner();
  const other = await api().learner();
  const theirs = runOf(other, 2);
  const socket = await TestSocket.withToken(api().url, me.tokens.accessToken);
  t.like(await socket.subscribe(theirs), { type: "error", code: "not_found", runId: theirs });
  t.like(await socket.subscribe(randomUUID()), { type: "error", code: "not_found" });
  // The owner's subscription proves the broadcast went out; the other socket got nothing of it.
  const owner = await TestSocket.withToken(api().url, other.tokens.accessToken);
  await owner.subscribe(theirs);
  await owner.next(isMetrics);
  await publish(theirs, other.user.id, 3);
  t.like(await owner.next(isMetrics), { iteration: 3 });
  t.deepEqual(socket.pending(), []);
  socket.close();
  owner.close();
});

test("an admin may watch anyone's run", async (t) => {
  const someone = await api().learner();
  const runId = runOf(someone, 1);
  const admin = await api().loginAdmin();
  const socket = await TestSocket.withToken(api().url, admin.accessToken);
  t.like(await socket.subscribe(runId), { type: "subscribed", runId });
  t.like(await socket.next(isMetrics), { iteration: 1 });
  socket.close();
});

test("unsubscribing stops delivery of that run and only that run", async (t) => {
  const me = await api().learner();
  const a = runOf(me, 0);
  const b = runOf(me, 0);
  const socket = await TestSocket.withToken(api().url, me.tokens.accessToken);
  await socket.subscribe(a);
  await socket.subscribe(b);
  socket.send({ type: "unsubscribe", runId: a });
  t.like(await socket.next(), { type: "unsubscribed", runId: a });
  await publish(a, me.user.id, 1);
  await publish(b, me.user.id, 1);
  // Frames of one socket arrive in the order they were sent: b's point comes with nothing of a before it.
  t.like(await socket.next(), { type: "metrics", runId: b, iteration: 1 });
  t.deepEqual(socket.pending(), []);
  socket.send({ type: "unsubscribe", runId: a });
  t.like(await socket.next(), { type: "error", code: "not_subscribed", runId: a });
  socket.close();
});

test("status changes are forwarded to the run's subscribers", async (t) => {
  const me = await api().learner();
  const runId = runOf(me, 0);
  const socket = await TestSocket.withToken(api().url, me.tokens.accessToken);
  await socket.subscribe(runId);
  await api().platform.broker.broadcast(RUN_STATUS_EVENT, { runId, ownerId: me.user.id, status: "stopping" });
  t.deepEqual(await socket.next(), { type: "status", runId, status: "stopping" });
  socket.close();
});

test("bad messages get an error message and leave the socket open", async (t) => {
  const me = await api().learner();
  const socket = await TestSocket.withToken(api().url, me.tokens.accessToken);
  socket.send("not json");
  t.like(await socket.next(), { type: "error", code: "bad_message" });
  socket.send({ type: "subscribe", runId: "not-a-uuid" });
  t.like(await socket.next(), { type: "error", code: "bad_message" });
  socket.send({ type: "dance" });
  t.like(await socket.next(), { type: "error", code: "bad_message" });
  socket.send({ type: "subscribe", runId: randomUUID(), extra: 1 });
  t.like(await socket.next(), { type: "error", code: "bad_message" });
  socket.ws.send(Buffer.from([1, 2, 3]), { binary: true });
  t.like(await socket.next(), { type: "error", code: "bad_message" });
  const runId = runOf(me, 1);
  t.like(await socket.subscribe(runId), { type: "subscribed" });
  socket.close();
});

test("a message larger than the payload cap closes the socket with 1009", async (t) => {
  const me = await api().learner();
  const socket = await TestSocket.withToken(api().url, me.tokens.accessToken);
  socket.send({ type: "subscribe", runId: "x".repeat(8 * 1024) });
  t.is((await socket.closed).code, 1009);
});

test("a client sending faster than its rate budget is closed with 1008", async (t) => {
  const me = await api().learner();
  const socket = await TestSocket.withToken(api().url, me.tokens.accessToken);
  for (let i = 0; i < 200; i++) socket.send({ type: "unsubscribe", runId: randomUUID() });
  const closed = await socket.closed;
  t.is(closed.code, 1008);
  t.is(closed.reason, "message rate exceeded");
});

test("subscriptions per socket are capped", async (t) => {
  // On a hub whose message budget is out of the way: the cap, not the rate, is what is checked here.
  const { url } = await startHub(api(), t, { rateCapacity: 100 });
  const me = await api().learner();
  const socket = await TestSocket.withToken(url, me.tokens.accessToken);
  for (let i = 0; i < DEFAULT_WS_OPTIONS.maxSubscriptionsPerSocket; i++)
    t.like(await socket.subscribe(runOf(me, 0)), { type: "subscribed" });
  t.like(await socket.subscribe(runOf(me, 0)), { type: "error", code: "too_many_subscriptions" });
  socket.close();
});

test("an admin demoted while watching another user's run loses that subscription, keeps their own", async (t) => {
  const someone = await api().learner();
  const theirs = runOf(someone, 0);
  const promoted = await api().learner();
  const mine = runOf(promoted, 0);
  const admin = await api().loginAdmin();
  const patch = (role: string) =>
    api().request("PATCH", `/api/v1/users/${promoted.user.id}`, { token: admin.accessToken, body: { role } });
  t.is((await patch("admin")).status, 200);
  const socket = await TestSocket.withToken(api().url, promoted.tokens.accessToken);
  t.like(await socket.subscribe(theirs), { type: "subscribed" });
  t.like(await socket.subscribe(mine), { type: "subscribed" });
  t.is((await patch("learner")).status, 200);
  t.like(await socket.next(), { type: "error", code: "not_found", runId: theirs });
  await publish(theirs, someone.user.id, 1);
  await publish(mine, promoted.user.id, 1);
  t.like(await socket.next(), { type: "metrics", runId: mine });
  t.deepEqual(socket.pending(), []);
  socket.close();
});
