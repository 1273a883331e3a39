import test from "ava";
import { type PublicRun, RUN_TAGS_MAX } from "../../contracts/runs.ts";
import { useTestPlatform } from "../helpers/platform.ts";
import { SWEEP_SERVICES, sweepWithFirstRun, waitForSweep } from "../sweeps/helpers.ts";
import { accountWithRole, getRun, holdWorkerSlots, launch, tinyRun, waitForStatus } from "./helpers.ts";

const api = useTestPlatform(test, SWEEP_SERVICES);

interface Problem {
  status: number;
  detail?: string;
  errors?: { field: string; message: string }[];
  sweepId?: string;
}

const fields = (body: Problem) => (body.errors ?? []).map((e) => e.field).sort();

/** Runs of the caller as `GET /runs` lists them with `query`. */
async function listed(token: string, query = ""): Promise<PublicRun[]> {
  const res = await api().request<{ items: PublicRun[] }>("GET", `/api/v1/runs${query}`, { token });
  if (res.status !== 200) throw new Error(`list ${query}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.items;
}

/** A run that stays queued (every worker slot is held): its metadata is the test's, not training's. */
async function stoppedRun(token: string, extra: Record<string, unknown> = {}): Promise<PublicRun> {
  const run = await launch(api(), token, tinyRun(1000, extra));
  const stop = await api().request("POST", `/api/v1/runs/${run.id}/stop`, { token });
  if (stop.status !== 200) throw new Error(`stop: ${stop.status}`);
  return waitForStatus(api(), token, run.id, ["stopped"]);
}

test.serial(
  "name, tags and notes are accepted on create and changed by PATCH, the fields left out kept",
  async (t) => {
    const slots = await holdWorkerSlots(api());
    t.teardown(() => slots.release());
    const me = await accountWithRole(api(), "learner");
    const run = await stoppedRun(me.token, {
      name: "  baseline  ",
      tags: ["ppo", "cartpole"],
      notes: "first try",
    });
    t.is(run.name, "baseline", "the name is trimmed");
    t.deepEqual(run.tags, ["ppo", "cartpole"]);
    t.is(run.notes, "first try");
    t.is(run.sweep, null);

    const patch = (body: unknown, token = me.token, id = run.id) =>
      api().request<PublicRun>("PATCH", `/api/v1/runs/${id}`, { token, body });
    const renamed = await patch({ name: "baseline v2" });
    t.is(renamed.status, 200);
    t.is(renamed.body.name, "baseline v2");
    t.deepEqual(renamed.body.tags, ["ppo", "cartpole"], "tags kept");
    t.is(renamed.body.notes, "first try", "notes kept");

    const retagged = await patch({ tags: ["ppo", "lr-sweep:3e-4"], notes: null });
    t.deepEqual(retagged.body.tags, ["ppo", "lr-sweep:3e-4"]);
    t.is(retagged.body.notes, null);
    t.is(retagged.body.name, "baseline v2");
    t.deepEqual(await getRun(api(), me.token, run.id), retagged.body);

    // A metadata edit does not move the status's optimistic lock: the run still resumes and stops.
    const resumed = await api().request<PublicRun>("POST", `/api/v1/runs/${run.id}/resume`, {
      token: me.token,
    });
    t.is(resumed.status, 200);
    t.is((await api().request("POST", `/api/v1/runs/${run.id}/stop`, { token: me.token })).status, 200);

    // An admin may edit anyone's run; another user finds none, an unknown id neither.
    const admin = (await api().loginAdmin()).accessToken;
    t.is((await patch({ notes: "checked by ops" }, admin)).status, 200);
    const other = await accountWithRole(api(), "learner");
    t.is((await patch({ name: "mine now" }, other.token)).status, 404);
    t.is((await patch({ name: "x" }, me.token, "00000000-0000-4000-8000-000000000000")).status, 404);
    t.is((await getRun(api(), me.token, run.id)).name, "baseline v2");
  },
);

test.serial("invalid metadata is a 422 naming every field with its limit, and changes nothing", async (t) => {
  const slots = await holdWorkerSlots(api());
  t.teardown(() => slots.release());
  const me = await accountWithRole(api(), "learner");
  const run = await stoppedRun(me.token, { name: "keep", tags: ["a"], notes: "keep" });
  const patch = (body: unknown) =>
    api().request<Problem>("PATCH", `/api/v1/runs/${run.id}`, { token: me.token, body });

  const bad = await patch({ name: " ", tags: ["has space", "ok", "x".repeat(33)], notes: 5 });
  t.is(bad.status, 422);
  t.regex(bad.headers.get("content-type") ?? "", /application\/problem\+json/);
  t.deepEqual(fields(bad.body), ["name", "notes", "tags.0", "tags.2"]);
  const tagMessage = bad.body.errors!.find((e) => e.field === "tags.0")!.message;
  t.regex(tagMessage, /1 to 32 letters, digits or -_\.:\//);

  const tooMany = await patch({ tags: Array.from({ length: RUN_TAGS_MAX + 1 }, (_, i) => `t${i}`) });
  t.deepEqual(fields(tooMany.body), ["tags"]);
  t.regex(tooMany.body.errors![0]!.message, new RegExp(`at most ${RUN_TAGS_MAX} tags`));
  t.deepEqual(fields((await patch({ tags: ["a", "a"] })).body), ["tags"]);
  const empty = await patch({});
  t.is(empty.status, 422, "an empty change");
  t.deepEqual(empty.body.errors, [
    { field: "body", message: "must change at least one of name, tags, notes" },
  ]);
  // A field PATCH does not change is named as such (and the body then changes nothing it knows).
  t.deepEqual(fields((await patch({ status: "completed" })).body), ["body", "status"]);
  t.deepEqual(fields((await patch({ name: "n".repeat(121) })).body), ["name"]);

  const after = await getRun(api(), me.token, run.id);
  t.is(after.name, "keep");
  t.deepEqual(after.tags, ["a"]);
  t.is(after.notes, "keep");

  // The same rules on create: nothing is created.
  const created = await api().request<Problem>("POST", "/api/v1/runs", {
    token: me.token,
    body: tinyRun(2, { tags: ["white space"], name: "" }),
  });
  t.is(created.status, 422);
  t.deepEqual(fields(created.body), ["name", "tags.0"]);
});

test.serial("GET /runs filters by tag and by name, and a bad tag is a 422", async (t) => {
  const slots = await holdWorkerSlots(api());
  t.teardown(() => slots.release());
  const me = await accountWithRole(api(), "learner");
  const a = await stoppedRun(me.token, { name: "Adam 100%", tags: ["ppo", "adam"] });
  const b = await stoppedRun(me.token, { name: "plain", tags: ["ppo"] });
  const ids = (runs: PublicRun[]) => runs.map((r) => r.id);
  t.deepEqual(ids(await listed(me.token, "?tag=ppo")), [b.id, a.id]);
  t.deepEqual(ids(await listed(me.token, "?tag=adam")), [a.id]);
  t.deepEqual(ids(await listed(me.token, "?tag=none")), []);
  t.deepEqual(ids(await listed(me.token, "?q=adam")), [a.id], "any case");
  // LIKE's wildcards are matched as written: "%" only matches the run with a percent sign.
  t.deepEqual(ids(await listed(me.token, `?q=${encodeURIComponent("0%")}`)), [a.id]);
  t.deepEqual(ids(await listed(me.token, "?q=_")), []);
  const bad = await api().request<Problem>("GET", "/api/v1/runs?tag=a%20b", { token: me.token });
  t.is(bad.status, 422);
  t.deepEqual(fields(bad.body), ["query.tag"]);
});

test.serial(
  "a sweep's trials are named after it, left out of GET /runs unless asked for, and resumed only with their sweep",
  async (t) => {
    const me = await accountWithRole(api(), "researcher");
    const own = await launch(api(), me.token, tinyRun(1, { name: "my own" }));
    const { sweep, firstRun: first } = await sweepWithFirstRun(api(), me.token, "lr grid");
    const trialRun = (i: number) => sweep.trials.find((x) => x.index === i)!.runId;
    t.is(first.name, "lr grid #0");
    t.deepEqual(first.sweep, { id: sweep.id, trialIndex: 0 });

    t.deepEqual(
      (await listed(me.token)).map((r) => r.id),
      [own.id],
      "trials left out by default",
    );
    const included = await listed(me.token, "?trials=include");
    t.true(included.some((r) => r.id === own.id) && included.some((r) => r.id === trialRun(0)));
    t.true((await listed(me.token, "?trials=only")).every((r) => r.sweep?.id === sweep.id));
    t.true((await listed(me.token, `?sweep=${sweep.id}`)).some((r) => r.id === trialRun(0)));

    t.is((await api().request("POST", `/api/v1/sweeps/${sweep.id}/stop`, { token: me.token })).status, 200);
    await waitForSweep(api(), me.token, sweep.id, ["stopped"]);
    await waitForStatus(api(), me.token, trialRun(0), ["stopped"]);
    const alone = await api().request<Problem>("POST", `/api/v1/runs/${trialRun(0)}/resume`, {
      token: me.token,
    });
    t.is(alone.status, 409);
    t.is(alone.body.sweepId, sweep.id);
    t.regex(alone.body.detail ?? "", /trial #0 of sweep .*resume the sweep/);

    // Its sweep resumes it.
    t.is((await api().request("POST", `/api/v1/sweeps/${sweep.id}/resume`, { token: me.token })).status, 200);
    await waitForStatus(api(), me.token, trialRun(0), ["queued", "running"]);
    t.is((await api().request("POST", `/api/v1/sweeps/${sweep.id}/stop`, { token: me.token })).status, 200);
    await waitForSweep(api(), me.token, sweep.id, ["stopped"]);
  },
);
