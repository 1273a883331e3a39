import { plainFieldMessage } from "../../contracts/problems.ts";
import { Api, ApiError, type FieldProblem } from "./api.ts";
import { h } from "./dom.ts";
import { Live } from "./live.ts";
import type { Router } from "./router.ts";

/** What every page reaches: the HTTP client, the shared WebSocket and the router. */
export interface App {
  api: Api;
  live: Live;
  router: Router;
}

export const api = new Api();
export const live = new Live(api);
let routerRef: Router | undefined;

export function setRouter(router: Router): void {
  routerRef = router;
}

export function navigate(path: string, replace = false): void {
  routerRef?.go(path, replace);
}

/** An inline error message for a failed action (role="alert": read out when it appears). */
export function errorBox(err: unknown): HTMLElement {
  const message = err instanceof ApiError ? err.message : err instanceof Error ? err.message : String(err);
  return h("p", { class: "error", role: "alert" }, message);
}

/**
 * Shows each field problem of a problem+json 422 next to its input (`data-field` names the request
 * field, as the API does: `totalSteps`, `hyperparameters.learningRate`, `resources.runners`), all of
 * them at once and in plain language (contracts/problems.ts), and returns the problems no field
 * claimed. The first invalid input gets the focus.
 */
export function showFieldErrors(form: HTMLFormElement, errors: readonly FieldProblem[]): FieldProblem[] {
  clearFieldErrors(form);
  const unclaimed: FieldProblem[] = [];
  for (const problem of errors) {
    const field = form.querySelector<HTMLElement>(`[data-field="${CSS.escape(problem.field)}"]`);
    if (!field) {
      unclaimed.push(problem);
      continue;
    }
    const input = field.querySelector<HTMLElement>("input, select, textarea");
    const slot = field.querySelector<HTMLElement>(".field-error");
    // Two problems of one field (rare) are both shown.
    if (slot)
      slot.textContent = [slot.textContent, plainFieldMessage(problem.message)].filter(Boolean).join(" ");
    field.classList.add("invalid");
    input?.setAttribute("aria-invalid", "true");
  }
  // The first invalid field in the form's order, whatever order the problems came in.
  form.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
  return unclaimed;
}

export function clearFieldErrors(form: HTMLFormElement): void {
  for (const field of form.querySelectorAll<HTMLElement>("[data-field]")) {
    field.classList.remove("invalid");
    field.querySelector("[aria-invalid]")?.removeAttribute("aria-invalid");
    const slot = field.querySelector(".field-error");
    if (slot) slot.textContent = "";
  }
}

let fieldCounter = 0;

/** A labelled input with its description and an error slot, tied together for assistive technology. */
export function field(opts: {
  name: string;
  label: string;
  input: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;
  description?: string;
}): HTMLElement {
  fieldCounter += 1;
  const id = `f${fieldCounter}`;
  opts.input.id = id;
  opts.input.name ||= opts.name;
  const describedBy = [`${id}-err`];
  const description = opts.description
    ? h("small", { class: "field-description", id: `${id}-desc` }, opts.description)
    : null;
  if (description) describedBy.push(`${id}-desc`);
  opts.input.setAttribute("aria-describedby", describedBy.join(" "));
  return h(
    "div",
    { class: "field", "data-field": opts.name },
    h("label", { for: id }, opts.label),
    opts.input,
    description,
    h("span", { class: "field-error", id: `${id}-err`, "aria-live": "polite" }),
  );
}
