import { javascript } from "@codemirror/lang-javascript";
import { basicSetup, EditorView } from "codemirror";
import DOMPurify from "dompurify";
import type { PublicExercise, PublicSubmission, UserProgress } from "../../../contracts/submissions.ts";
import { api, errorBox, live } from "../app.ts";
import { fmtDate, fmtNumber, h, statusBadge } from "../dom.ts";
import type { Cleanup, Page } from "../router.ts";

/**
 * One exercise: the statement (HTML rendered by the server, maths typeset by KaTeX; DOMPurify, inserted
 * as a DOM fragment, style attributes dropped since the CSP refuses inline styles: KaTeX's layout
 * comes as data-katex-style and is applied through the CSSOM), the visible tests, a CodeMirror editor
 * with the starter code (the draft is kept in localStorage per exercise version), and the grade with
 * one line per test. The grade arrives by the WebSocket's `submission` push; polling covers a socket
 * that is down at the time.
 */
/** The API's own shape (contracts/submissions.ts). */
type Submission = PublicSubmission;

const GRADED = new Set(["passed", "failed", "error"]);
const POLL_MS = 1000;

/** Where the server put KaTeX's inline styles (exercises/statement.ts). */
const KATEX_STYLE = "data-katex-style";

function statementFragment(html: string): DocumentFragment {
  const fragment = DOMPurify.sanitize(html, {
    RETURN_DOM_FRAGMENT: true,
    FORBID_ATTR: ["style"],
    FORBID_TAGS: ["style", "form", "input"],
    // KaTeX's MathML wraps the formula with its TeX source (read by screen readers, not shown).
    ADD_TAGS: ["semantics", "annotation"],
  });
  // Writes through the CSSOM are not inline styles in the CSP's sense (security-headers.ts).
  for (const el of fragment.querySelectorAll<HTMLElement>(`[${KATEX_STYLE}]`)) {
    el.style.cssText = el.getAttribute(KATEX_STYLE) ?? "";
    el.removeAttribute(KATEX_STYLE);
  }
  // The page's h1 is the exercise's title: the statement's headings go one level down.
  for (const heading of [...fragment.querySelectorAll("h1, h2, h3, h4, h5")].reverse()) {
    const lower = document.createElement(`h${Number(heading.tagName[1]) + 1}`);
    lower.append(...heading.childNodes);
    heading.replaceWith(lower);
  }
  return fragment;
}

/**
 * The grade's headline, in the score's own terms: only scored tests are counted (a training
 * exercise's examples are shown but not scored), so that it never reads "2 checks passed" beside 0
 * points.
 */
function gradeLine(s: Submission): string {
  const scored = s.tests.filter((t) => t.scored !== false);
  const passed = scored.filter((t) => t.passed).length;
  const examples = s.tests.length - scored.length;
  if (examples === 0)
    return ` ${fmtNumber(s.score)} / ${s.maxScore} points, ${passed} of ${scored.length} tests passed`;
  const unscored = `; ${examples} example${examples === 1 ? "" : "s"} shown, not scored`;
  return ` ${fmtNumber(s.score)} / ${s.maxScore} points, ${passed} of ${scored.length} scored checks passed${unscored}`;
}

function resultView(s: Submission): HTMLElement {
  return h(
    "section",
    { class: "card", "aria-label": "Result", "data-submission": s.id, "data-status": s.status },
    h("h2", null, "Result ", statusBadge(s.status), GRADED.has(s.status) ? gradeLine(s) : ""),
    GRADED.has(s.status) ? null : h("p", { class: "muted", role: "status" }, "Grading…"),
    s.error ? h("p", { class: "error" }, s.error) : null,
    s.envId
      ? h(
          "p",
          { "data-env-id": s.envId },
          "Your environment is ",
          h("code", null, s.envId),
          ": ",
          h("a", { href: `/runs/new?env=${encodeURIComponent(s.envId)}` }, "train on it"),
          ".",
        )
      : null,
    h(
      "ul",
      { class: "results" },
      s.tests.map((t) =>
        h(
          "li",
          { "data-test": t.name, "data-passed": String(t.passed) },
          h("span", { "aria-hidden": "true" }, t.passed ? "✓ " : "✗ "),
          h("span", { class: "visually-hidden" }, t.passed ? "passed: " : "failed: "),
          h("strong", null, t.name),
          t.hidden ? h("span", { class: "muted" }, " (hidden)") : null,
          t.scored === false ? h("span", { class: "muted" }, " (example, not scored)") : null,
          t.passed ? null : h("div", { class: "error" }, t.message),
          h("span", { class: "muted" }, ` ${t.timeMs.toFixed(0)} ms`),
        ),
      ),
    ),
    s.console
      ? h(
          "details",
          null,
          h("summary", null, `Console output${s.consoleTruncated ? " (truncated)" : ""}`),
          h("pre", null, s.console),
        )
      : null,
  );
}

/** The learner's standing on this exercise: best score, then every submission, latest first. */
function historyView(
  exercise: PublicExercise,
  progress: UserProgress | null,
  items: Submission[],
  show: (id: string) => void,
): HTMLElement[] {
  const mine = progress?.exercises.find((e) => e.exerciseId === exercise.id);
  const best = mine
    ? h(
        "p",
        { "data-best": String(mine.bestScore) },
        `Best: ${fmtNumber(mine.bestScore)} / ${mine.maxScore} points `,
        statusBadge(mine.passed ? "passed" : "failed"),
        ` after ${mine.attempts} graded submission${mine.attempts === 1 ? "" : "s"}.`,
      )
    : h("p", { class: "empty" }, "No graded submission yet.");
  const rows = items.map((s) =>
    h(
      "tr",
      { "data-submission": s.id },
      h("td", null, fmtDate(s.createdAt)),
      h("td", null, statusBadge(s.status)),
      h("td", { class: "num" }, GRADED.has(s.status) ? `${fmtNumber(s.score)} / ${s.maxScore}` : "–"),
      h(
        "td",
        null,
        h(
          "button",
          {
            type: "button",
            class: "link",
            onclick: () => show(s.id),
            "aria-label": `Show the submission of ${fmtDate(s.createdAt)}`,
          },
          "Show",
        ),
      ),
    ),
  );
  if (items.length === 0)
    return [h("h2", null, "Your submissions"), h("p", { class: "empty" }, "Nothing submitted yet.")];
  return [
    h("h2", null, "Your submissions"),
    best,
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { class: "history" },
        h(
          "thead",
          null,
          h(
            "tr",
            null,
            ["Submitted", "Status", "Score", ""].map((c) => h("th", { scope: "col" }, c)),
          ),
        ),
        h("tbody", null, rows),
      ),
    ),
  ];
}

export const exercisePage: Page = (main, { id }) => {
  const status = h("div");
  main.append(status);
  let editor: EditorView | undefined;
  let disposed = false;
  const cleanups: Cleanup[] = [];

  api
    .get<PublicExercise>(`/api/v1/exercises/${encodeURIComponent(id!)}`)
    .then((exercise) => {
      if (disposed) return;
      const draftKey = `proxima:draft:${exercise.id}:v${exercise.version}`;
      const statement = h("article", { class: "statement" }, statementFragment(exercise.statementHtml));
      const holder = h("div", { class: "editor" });
      // CodeMirror injects its styles through style-mod, which uses a constructable stylesheet only in
      // a shadow root (in a document it adds a <style> element, which style-src 'self' refuses): the
      // editor lives in one, so that the CSP needs neither 'unsafe-inline' nor a nonce.
      const shadow = holder.attachShadow({ mode: "open" });
      const editorParent = document.createElement("div");
      shadow.append(editorParent);
      const submit = h("button", { type: "button", class: "primary" }, "Submit");
      const reset = h("button", { type: "button" }, "Reset to starter code");
      const resultSlot = h("div", { "aria-live": "polite" });
      const submitStatus = h("div", { class: "form-status" });
      const history = h("section", { "aria-label": "Your submissions", class: "history" });
      main.append(
        h(
          "div",
          { class: "page-head" },
          h("h1", null, exercise.title),
          h("span", null, `${exercise.points} points`),
        ),
        h(
          "div",
          { class: "columns" },
          h(
            "section",
            null,
            statement,
            h("h2", null, "Visible tests"),
            h(
              "ul",
              null,
              exercise.visibleTests.map((t) =>
                h("li", null, h("strong", null, t.name), `: ${t.description}`),
              ),
            ),
          ),
          h(
            "section",
            null,
            h("p", null, h("code", null, exercise.signature)),
            holder,
            h("div", { class: "actions" }, submit, reset),
            submitStatus,
            resultSlot,
            history,
          ),
        ),
      );
      editor = new EditorView({
        doc: localStorage.getItem(draftKey) ?? exercise.starterCode,
        extensions: [
          basicSetup,
          javascript(),
          EditorView.contentAttributes.of({ "aria-label": "Code" }),
          EditorView.theme({
            "&": { minHeight: "12rem", fontSize: "14px" },
            ".cm-scroller": { fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace" },
          }),
          EditorView.updateListener.of((update) => {
            if (update.docChanged) localStorage.setItem(draftKey, update.state.doc.toString());
          }),
        ],
        parent: editorParent,
        root: shadow,
      });
      reset.addEventListener("click", () => {
        editor?.dispatch({ changes: { from: 0, to: editor.state.doc.length, insert: exercise.starterCode } });
        localStorage.removeItem(draftKey);
      });

      let current: string | null = null;
      let poll: ReturnType<typeof setTimeout> | undefined;
      const loadHistory = async () => {
        const query = new URLSearchParams({ limit: "20" });
        // An admin's list is everyone's: this page shows the caller's own.
        if (api.me) query.set("userId", api.me.id);
        try {
          const [page, progress] = await Promise.all([
            api.get<{ items: Submission[] }>(
              `/api/v1/exercises/${encodeURIComponent(exercise.id)}/submissions?${query}`,
            ),
            api.get<UserProgress>("/api/v1/me/progress").catch(() => null),
          ]);
          if (!disposed)
            history.replaceChildren(
              ...historyView(exercise, progress, page.items, (sid) => {
                current = sid;
                void fetchResult(sid);
              }),
            );
        } catch (err) {
          if (!disposed) history.replaceChildren(errorBox(err));
        }
      };
      const show = (s: Submission) => {
        if (s.id !== current) return;
        resultSlot.replaceChildren(resultView(s));
        if (GRADED.has(s.status)) {
          clearTimeout(poll);
          submit.disabled = false;
          void loadHistory();
        }
      };
      const fetchResult = async (submissionId: string) => {
        try {
          show(await api.get<Submission>(`/api/v1/submissions/${submissionId}`));
        } catch (err) {
          submitStatus.replaceChildren(errorBox(err));
        }
      };
      const schedulePoll = (submissionId: string) => {
        poll = setTimeout(async () => {
          await fetchResult(submissionId);
          if (current === submissionId && submit.disabled && !disposed) schedulePoll(submissionId);
        }, POLL_MS);
      };
      cleanups.push(
        live.onAny((m) => {
          if (m.type === "submission" && m["submissionId"] === current) void fetchResult(current!);
        }),
        () => clearTimeout(poll),
      );
      void loadHistory();
      submit.addEventListener("click", async () => {
        submitStatus.replaceChildren();
        submit.disabled = true;
        try {
          const s = await api.post<Submission>(
            `/api/v1/exercises/${encodeURIComponent(exercise.id)}/submissions`,
            {
              code: editor!.state.doc.toString(),
            },
          );
          current = s.id;
          show(s);
          if (!GRADED.has(s.status)) schedulePoll(s.id);
        } catch (err) {
          submit.disabled = false;
          submitStatus.replaceChildren(errorBox(err));
        }
      });
    })
    .catch((err) => main.replaceChildren(h("h1", null, "Exercise"), errorBox(err)));

  return () => {
    disposed = true;
    for (const c of cleanups) c();
    editor?.destroy();
  };
};
