import test from "ava";
import { Lane } from "../../services/submissions/grader.ts";

// The grader's queues are fair by learner (issue 15, finding 4): the next grading is the least-busy
// learner's, the one served longest ago on a tie, FIFO within a learner.

function lane(limit: number, queued: [string, string][]): Lane {
  const l = new Lane(limit);
  for (const [id, userId] of queued) l.queue.push({ id, userId });
  return l;
}

test("learners take turns: one learner's backlog does not hold the others behind it", (t) => {
  const l = lane(1, [
    ["a1", "a"],
    ["a2", "a"],
    ["a3", "a"],
    ["b1", "b"],
    ["c1", "c"],
    ["b2", "b"],
  ]);
  const order: string[] = [];
  for (;;) {
    const next = l.take();
    if (!next) break;
    order.push(next.id);
    l.done(next.userId);
  }
  t.deepEqual(order, ["a1", "b1", "c1", "a2", "b2", "a3"]);
});

test("with several slots, a learner already being graded waits for learners who are not", (t) => {
  const l = lane(2, [
    ["a1", "a"],
    ["a2", "a"],
    ["a3", "a"],
  ]);
  t.is(l.take()?.id, "a1");
  t.is(l.take()?.id, "a2");
  t.is(l.active, 2);
  // b arrives while both slots are a's; the first slot freed goes to b, not to a's third.
  l.queue.push({ id: "b1", userId: "b" });
  l.done("a");
  t.is(l.take()?.id, "b1");
  l.done("a");
  t.is(l.take()?.id, "a3");
  t.is(l.take(), undefined);
});
