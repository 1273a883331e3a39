import test from "ava";
import { advancesStatus, LIFECYCLE_RANK } from "../../contracts/run-status.ts";

test("a run page moves a run's status forward through its lifecycle, skipping missed steps", (t) => {
  t.true(advancesStatus("queued", "running"));
  t.true(advancesStatus("running", "stopping"));
  t.true(advancesStatus("running", "stopped"), "the stopping frame was missed");
  t.true(advancesStatus("queued", "completed"));
  t.true(advancesStatus("stopping", "failed"));
});

test("a run page ignores stale reports: a reply to Stop that a frame overtook, or a repeat", (t) => {
  t.false(advancesStatus("stopped", "stopping"), "the Stop reply arrives after the stopped frame");
  t.false(advancesStatus("stopping", "running"));
  t.false(advancesStatus("completed", "running"));
  t.false(advancesStatus("stopped", "stopped"));
  t.false(advancesStatus("stopped", "failed"));
});

test("a run page takes a resume: a stopped or failed run starts a new lifecycle", (t) => {
  t.true(advancesStatus("stopped", "queued"));
  t.true(advancesStatus("failed", "queued"));
  t.true(advancesStatus("stopped", "running"), "the queued frame was missed");
  t.false(advancesStatus("completed", "queued"), "a completed run cannot be resumed");
});

test("the lifecycle ranks are derived from the one transition table", (t) => {
  t.deepEqual(LIFECYCLE_RANK, { queued: 0, running: 1, stopping: 2, stopped: 3, completed: 3, failed: 3 });
});
