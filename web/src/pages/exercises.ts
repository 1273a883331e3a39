/** The exercise catalogue with the caller's standing on each, and the progress pages (types: contracts/). */
import type { ExerciseSummary, UserProgress } from "../../../contracts/submissions.ts";
import { api, errorBox } from "../app.ts";
import { fmtDate, fmtNumber, h, statusBadge } from "../dom.ts";
import type { Page } from "../router.ts";

function table(headers: string[], rows: HTMLTableRowElement[], cls = ""): HTMLElement {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: cls },
      h(
        "thead",
        null,
        h(
          "tr",
          null,
          headers.map((c) => h("th", { scope: "col" }, c)),
        ),
      ),
      h("tbody", null, rows),
    ),
  );
}

export const exercisesPage: Page = (main) => {
  const status = h("div");
  main.append(h("div", { class: "page-head" }, h("h1", null, "Exercises")), status);
  let disposed = false;
  Promise.all([
    api.get<ExerciseSummary[]>("/api/v1/exercises"),
    api.get<UserProgress>("/api/v1/me/progress").catch(() => null),
  ])
    .then(([exercises, progress]) => {
      if (disposed) return;
      const mine = new Map((progress?.exercises ?? []).map((e) => [e.exerciseId, e]));
      main.append(
        table(
          ["Exercise", "Kind", "Points", "Your best", "Status"],
          exercises.map((e) => {
            const p = mine.get(e.id);
            const state = !p ? "not attempted" : p.passed ? "passed" : "failed";
            return h(
              "tr",
              { "data-exercise": e.id },
              h(
                "td",
                null,
                h("a", { href: `/exercises/${e.id}` }, e.title),
                h("div", { class: "muted" }, e.summary),
              ),
              h("td", null, e.kind),
              h("td", { class: "num" }, String(e.points)),
              h("td", { class: "num" }, p ? `${fmtNumber(p.bestScore)} / ${p.maxScore}` : "–"),
              h("td", null, statusBadge(state)),
            );
          }),
          "exercises",
        ),
      );
    })
    .catch((err) => status.replaceChildren(errorBox(err)));
  return () => {
    disposed = true;
  };
};

function progressView(p: UserProgress): HTMLElement[] {
  return [
    h(
      "dl",
      { class: "kv" },
      h("dt", null, "Exercises passed"),
      h("dd", { "data-metric": "passed" }, `${p.exercisesPassed} of ${p.exercisesTotal}`),
      h("dt", null, "Exercises attempted"),
      h("dd", null, String(p.exercisesAttempted)),
      h("dt", null, "Points"),
      h("dd", null, fmtNumber(p.points)),
      h("dt", null, "Graded submissions"),
      h("dd", null, String(p.attempts)),
      h("dt", null, "Runs launched"),
      h("dd", null, String(p.runs.launched)),
      h("dt", null, "Last activity"),
      h("dd", null, fmtDate(p.lastActivity)),
    ),
    h("h2", null, "Exercises"),
    p.exercises.length === 0
      ? h(
          "p",
          { class: "empty" },
          "No graded submission yet. ",
          h("a", { href: "/exercises" }, "Pick an exercise"),
          ".",
        )
      : table(
          ["Exercise", "Attempts", "Best score", "Status", "First passed"],
          p.exercises.map((e) =>
            h(
              "tr",
              { "data-exercise": e.exerciseId },
              h("td", null, h("a", { href: `/exercises/${e.exerciseId}` }, e.title)),
              h("td", { class: "num" }, String(e.attempts)),
              h("td", { class: "num" }, `${fmtNumber(e.bestScore)} / ${e.maxScore}`),
              h("td", null, statusBadge(e.passed ? "passed" : "failed")),
              h("td", null, fmtDate(e.firstPassedAt)),
            ),
          ),
        ),
    h("h2", null, "Runs by environment"),
    p.runs.byEnv.length === 0
      ? h("p", { class: "empty" }, "No runs yet.")
      : table(
          ["Environment", "Runs", "Best training return", "Best evaluation return"],
          p.runs.byEnv.map((e) =>
            h(
              "tr",
              null,
              h("td", null, e.env),
              h("td", { class: "num" }, String(e.runs)),
              h("td", { class: "num" }, fmtNumber(e.bestEpisodicReturn)),
              h("td", { class: "num" }, fmtNumber(e.bestEvaluationReturn)),
            ),
          ),
        ),
  ];
}

export const progressPage: Page = (main) => {
  const status = h("div");
  main.append(h("div", { class: "page-head" }, h("h1", null, "My progress")), status);
  let disposed = false;
  api
    .get<UserProgress>("/api/v1/me/progress")
    .then((p) => {
      if (!disposed) main.append(...progressView(p));
    })
    .catch((err) => status.replaceChildren(errorBox(err)));
  return () => {
    disposed = true;
  };
};

/** Admins: every learner's progress, by email. */
export const allProgressPage: Page = (main) => {
  const body = h("tbody");
  const status = h("div");
  const more = h("button", { type: "button", hidden: true }, "Load more");
  main.append(
    h("div", { class: "page-head" }, h("h1", null, "Progress of every user")),
    status,
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        null,
        h(
          "thead",
          null,
          h(
            "tr",
            null,
            ["User", "Passed", "Attempted", "Points", "Runs", "Last activity"].map((c) =>
              h("th", { scope: "col" }, c),
            ),
          ),
        ),
        body,
      ),
    ),
    more,
  );
  let cursor: string | null = null;
  const load = async () => {
    try {
      const params = new URLSearchParams({ limit: "50" });
      if (cursor) params.set("cursor", cursor);
      const page = await api.get<{ items: UserProgress[]; nextCursor: string | null }>(
        `/api/v1/progress?${params}`,
      );
      body.append(
        ...page.items.map((p) =>
          h(
            "tr",
            { "data-user-id": p.userId },
            h("td", null, p.email ?? p.userId),
            h("td", { class: "num" }, `${p.exercisesPassed} / ${p.exercisesTotal}`),
            h("td", { class: "num" }, String(p.exercisesAttempted)),
            h("td", { class: "num" }, fmtNumber(p.points)),
            h("td", { class: "num" }, String(p.runs.launched)),
            h("td", null, fmtDate(p.lastActivity)),
          ),
        ),
      );
      cursor = page.nextCursor;
      more.hidden = cursor === null;
    } catch (err) {
      status.replaceChildren(errorBox(err));
    }
  };
  more.addEventListener("click", () => void load());
  void load();
  return undefined;
};
