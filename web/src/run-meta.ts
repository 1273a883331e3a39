import { RUN_NAME_MAX, RUN_NOTES_MAX, RUN_TAGS_MAX } from "../../contracts/run-metadata.ts";
import type { PublicRun as Run, UpdateRunInput } from "../../contracts/runs.ts";
import { ApiError, type FieldProblem } from "./api.ts";
import { api, clearFieldErrors, errorBox, field, showFieldErrors } from "./app.ts";
import { h } from "./dom.ts";

/**
 * A run's metadata in the dashboard: its tags as chips (each a link to the runs it tags), the editor
 * of its name, tags and notes on the run page (PATCH /runs/:id), and, for a sweep's trial, the link
 * to its sweep.
 */

/** The tags as chips; each links to the runs list filtered by it. */
export function tagChips(tags: readonly string[]): HTMLElement {
  return h(
    "span",
    { class: "tags" },
    tags.map((tag) =>
      h("a", { class: "chip", href: `/runs?tag=${encodeURIComponent(tag)}`, "data-tag": tag }, tag),
    ),
  );
}

/** Tags as typed: separated by commas or spaces (a tag holds neither). */
export function parseTags(text: string): string[] {
  return text.split(/[\s,]+/).filter(Boolean);
}

/** What people call a run: its name, else its environment and the start of its id. */
export function runTitle(run: Run): string {
  return run.name ?? `${run.env} · ${run.id.slice(0, 8)}`;
}

/**
 * The API names a bad tag by its index (`tags.2`); the form has one box for all of them, so the
 * problem moves there, naming the tag.
 */
export function onTagsBox(problems: readonly FieldProblem[], tags: readonly string[]): FieldProblem[] {
  return problems.map((p) => {
    const index = /^tags\.(\d+)$/.exec(p.field)?.[1];
    return index === undefined ? p : { field: "tags", message: `"${tags[Number(index)]}" ${p.message}` };
  });
}

/** The editor of a run's name, tags and notes; `saved` gets the run as the API answers it. */
export function metadataEditor(run: Run, saved: (run: Run) => void): HTMLElement {
  const name = h("input", {
    type: "text",
    autocomplete: "off",
    maxlength: RUN_NAME_MAX,
    value: run.name ?? "",
  });
  const tags = h("input", {
    type: "text",
    autocomplete: "off",
    spellcheck: "false",
    value: run.tags.join(", "),
  });
  const notes = h("textarea", { rows: 3, maxlength: RUN_NOTES_MAX });
  notes.value = run.notes ?? "";
  const status = h("div", { class: "form-status", "aria-live": "polite" });
  const save = h("button", { type: "submit", "data-action": "save-metadata" }, "Save");
  const form = h(
    "form",
    { class: "run-meta", novalidate: true, "aria-label": "Name, tags and notes" },
    h(
      "div",
      { class: "grid" },
      field({ name: "name", label: "Name", input: name }),
      field({
        name: "tags",
        label: "Tags",
        input: tags,
        description: `Up to ${RUN_TAGS_MAX}, separated by commas or spaces.`,
      }),
    ),
    field({ name: "notes", label: "Notes", input: notes }),
    h("div", { class: "actions" }, save),
    status,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    status.replaceChildren();
    const typed = parseTags(tags.value);
    const body: UpdateRunInput = {
      name: name.value.trim() || null,
      tags: typed,
      notes: notes.value.trim() === "" ? null : notes.value,
    };
    save.disabled = true;
    try {
      const updated = await api.patch<Run>(`/api/v1/runs/${run.id}`, body);
      status.replaceChildren(h("p", { class: "muted" }, "Saved."));
      saved(updated);
    } catch (err) {
      const problems = err instanceof ApiError ? onTagsBox(err.errors, typed) : [];
      const unclaimed = showFieldErrors(form, problems);
      if (problems.length === 0 || unclaimed.length > 0) status.replaceChildren(errorBox(err));
    } finally {
      save.disabled = false;
    }
  });
  return form;
}

/** For a sweep's trial: which trial of which sweep, linked (a trial is stopped and resumed with it). */
export function trialNote(run: Run): HTMLElement | null {
  if (!run.sweep) return null;
  const link = h("a", { href: `/sweeps/${run.sweep.id}`, "data-sweep-link": run.sweep.id }, "its sweep");
  void api
    .get<{ name: string }>(`/api/v1/sweeps/${run.sweep.id}`)
    .then((s) => {
      link.textContent = `sweep ${s.name}`;
    })
    .catch(() => {});
  return h(
    "p",
    { class: "trial-note" },
    `Trial #${run.sweep.trialIndex} of `,
    link,
    ": it is stopped and resumed with its sweep.",
  );
}
