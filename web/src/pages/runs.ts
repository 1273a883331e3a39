import catalog, { type CatalogEnv, type JsonSchemaProperty } from "proxima:catalog";
import { type FieldProblem, plainFieldMessage } from "../../../contracts/problems.ts";
import type { UserQuotas } from "../../../contracts/quotas.ts";
import { RUN_NAME_MAX, RUN_TAGS_MAX } from "../../../contracts/run-metadata.ts";
import { ACTIVE_STATUSES, isRunStatus, RUN_STATUSES } from "../../../contracts/run-status.ts";
import type { PublicRun } from "../../../contracts/runs.ts";
import { ApiError, type User } from "../api.ts";
import { api, clearFieldErrors, errorBox, field, live, navigate, showFieldErrors } from "../app.ts";
import { fmtDate, fmtNumber, h, statusBadge } from "../dom.ts";
import type { Page } from "../router.ts";
import { onTagsBox, parseTags, runTitle, tagChips } from "../run-meta.ts";

/** A run as the API answers it (contracts/runs.ts): the type is the server's own, never a copy. */
export type Run = PublicRun;

export const ACTIVE: ReadonlySet<string> = new Set(ACTIVE_STATUSES);

interface MetricPage {
  points: { iteration: number; metrics: Record<string, number | null> }[];
}

/** The newest non-null episodic return among a run's last few iterations. */
async function latestReturn(run: Run): Promise<number | null> {
  if (run.iteration === 0) return null;
  const from = Math.max(0, run.iteration - 4);
  const page = await api.get<MetricPage>(`/api/v1/runs/${run.id}/metrics?fromIteration=${from}`);
  for (const p of [...page.points].reverse()) {
    const value = p.metrics["charts/episodic_return"];
    if (typeof value === "number") return value;
  }
  return null;
}

/** The status badge; a queued run's place in its pool's queue beside it, the reason on hover and for readers. */
function statusCell(run: Run, status: string = run.status): HTMLElement[] {
  const badge = statusBadge(status);
  if (status !== "queued" || !run.queue) return [badge];
  return [
    badge,
    h(
      "span",
      { class: "muted queue-place", title: run.queue.reason },
      h("span", { "aria-hidden": "true" }, ` #${run.queue.position}`),
      h("span", { class: "visually-hidden" }, `: ${run.queue.reason}`),
    ),
  ];
}

function progressOf(run: Run): HTMLElement {
  const fraction = run.totalSteps > 0 ? Math.min(1, run.globalStep / run.totalSteps) : 0;
  return h(
    "span",
    { class: "progress-cell" },
    h("progress", { max: 1, value: fraction, "aria-label": `${Math.round(fraction * 100)}% of the steps` }),
    h("span", { class: "muted" }, ` ${Math.round(fraction * 100)}%`),
  );
}

/** The list's filters, as the page's URL and the API's query both name them. */
const LIST_FILTERS = ["status", "tag", "q", "trials"] as const;

export const runsPage: Page = (main, _params, query) => {
  const status = query.get("status") ?? "";
  const filter = h(
    "select",
    { "aria-label": "Filter by status" },
    h("option", { value: "" }, "all statuses"),
    RUN_STATUSES.map((s) => h("option", { value: s }, s)),
  );
  filter.value = status;
  const textFilter = (key: "tag" | "q", label: string, placeholder: string) =>
    h("input", {
      type: "search",
      "aria-label": label,
      placeholder,
      value: query.get(key) ?? "",
      size: Math.max(10, placeholder.length),
    });
  const tagFilter = textFilter("tag", "Filter by tag", "tag");
  const search = textFilter("q", "Search names", "name contains…");
  const trials = h("input", { type: "checkbox", checked: query.get("trials") === "include" });
  const trialsToggle = h("label", { class: "inline" }, trials, " sweep trials");
  /** The page's URL with the filters as set now: the list is reloaded from it. */
  const applyFilters = () => {
    const next = new URLSearchParams();
    const values = {
      status: filter.value,
      tag: tagFilter.value.trim(),
      q: search.value.trim(),
      trials: trials.checked ? "include" : "",
    };
    for (const k of LIST_FILTERS) if (values[k]) next.set(k, values[k]);
    navigate(next.size > 0 ? `/runs?${next}` : "/runs");
  };
  filter.addEventListener("change", applyFilters);
  trials.addEventListener("change", applyFilters);
  for (const input of [tagFilter, search]) input.addEventListener("change", applyFilters);
  const body = h("tbody");
  const message = h("div");
  const more = h("button", { type: "button", hidden: true }, "Load more");
  // Ticked runs, in the order ticked: the compare page lists and colours them in that order.
  const picked: string[] = [];
  const compare = h("button", { type: "button", disabled: true, "data-action": "compare" }, "Compare");
  compare.addEventListener("click", () => navigate(`/compare?runs=${picked.join(",")}`));
  const pick = (id: string, on: boolean) => {
    const at = picked.indexOf(id);
    if (on && at < 0) picked.push(id);
    if (!on && at >= 0) picked.splice(at, 1);
    compare.disabled = picked.length === 0;
    compare.textContent = picked.length > 0 ? `Compare (${picked.length})` : "Compare";
  };
  main.append(
    h(
      "div",
      { class: "page-head" },
      h("h1", null, "Runs"),
      h(
        "div",
        { class: "actions" },
        filter,
        tagFilter,
        search,
        trialsToggle,
        compare,
        h("a", { href: "/runs/new", class: "button primary" }, "New run"),
      ),
    ),
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { class: "runs" },
        h(
          "thead",
          null,
          h(
            "tr",
            null,
            h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Compare")),
            ["Run", "Tags", "Status", "Env", "Progress", "Latest return", "Started by", "Created"].map((c) =>
              h("th", { scope: "col" }, c),
            ),
          ),
        ),
        body,
      ),
    ),
    message,
    more,
  );

  const owners = new Map<string, string>();
  const me = api.me!;
  owners.set(me.id, "you");
  const unsubscribers: (() => void)[] = [];
  let cursor: string | null = null;
  let disposed = false;

  const row = (run: Run): HTMLTableRowElement => {
    const returnCell = h("td", { class: "num" }, "–");
    void latestReturn(run)
      .then((value) => {
        returnCell.textContent = fmtNumber(value);
      })
      .catch(() => {});
    const tick = h("input", { type: "checkbox", "aria-label": `Compare ${run.id.slice(0, 8)}` });
    tick.addEventListener("change", () => pick(run.id, tick.checked));
    const tr = h(
      "tr",
      { "data-run-id": run.id },
      h("td", null, tick),
      h("td", null, h("a", { href: `/runs/${run.id}`, class: "run-name", title: run.id }, runTitle(run))),
      h("td", null, tagChips(run.tags)),
      h("td", { class: "status-cell" }, ...statusCell(run)),
      h("td", null, run.env),
      h("td", { class: "progress-td" }, progressOf(run)),
      returnCell,
      h("td", null, owners.get(run.ownerId) ?? run.ownerId.slice(0, 8)),
      h("td", null, fmtDate(run.createdAt)),
    );
    if (ACTIVE.has(run.status)) {
      const current = { ...run };
      unsubscribers.push(
        live.subscribe({ runId: run.id }, (m) => {
          if (m.type === "status" || m.type === "subscribed") {
            const status = String(m["status"]);
            if (isRunStatus(status)) current.status = status;
            // A place in the queue holds only while the run is queued (the list is read again on load).
            if (status !== "queued") current.queue = null;
            tr.querySelector(".status-cell")!.replaceChildren(...statusCell(current, status));
          } else if (m.type === "metrics") {
            current.globalStep = Number(m["globalStep"]);
            tr.querySelector(".progress-td")!.replaceChildren(progressOf(current));
            const value = (m["metrics"] as Record<string, number | null>)["charts/episodic_return"];
            if (typeof value === "number") returnCell.textContent = fmtNumber(value);
          }
        }),
      );
    }
    return tr;
  };

  const load = async () => {
    more.disabled = true;
    try {
      const params = new URLSearchParams({ limit: "20" });
      for (const k of LIST_FILTERS) {
        const value = query.get(k);
        if (value) params.set(k, value);
      }
      if (cursor) params.set("cursor", cursor);
      const page = await api.get<{ items: Run[]; nextCursor: string | null }>(`/api/v1/runs?${params}`);
      if (disposed) return;
      if (me.role === "admin" && owners.size === 1) {
        const users = await api
          .get<{ items: User[] }>("/api/v1/users?limit=100")
          .catch(() => ({ items: [] }));
        for (const u of users.items) if (u.id !== me.id) owners.set(u.id, u.email);
      }
      body.append(...page.items.map(row));
      cursor = page.nextCursor;
      more.hidden = cursor === null;
      if (body.children.length === 0) {
        const filtered = LIST_FILTERS.some((k) => query.get(k));
        message.replaceChildren(
          filtered
            ? h(
                "p",
                { class: "empty" },
                "No runs match these filters. ",
                h("a", { href: "/runs" }, "Show all"),
                ".",
              )
            : h("p", { class: "empty" }, "No runs yet. ", h("a", { href: "/runs/new" }, "Launch one"), "."),
        );
      }
    } catch (err) {
      message.replaceChildren(errorBox(err));
    } finally {
      more.disabled = false;
    }
  };
  more.addEventListener("click", () => void load());
  void load();
  return () => {
    disposed = true;
    for (const u of unsubscribers) u();
  };
};

/** The hyperparameters shown up front; the others are under "More hyperparameters". */
const MAIN_HYPERPARAMETERS = [
  "learningRate",
  "numEnvs",
  "numSteps",
  "numMinibatches",
  "updateEpochs",
  "gamma",
  "gaeLambda",
  "clipCoef",
  "entCoef",
  "vfCoef",
];
/** Set by fields of their own (total steps, seed) rather than as overrides. */
const NOT_OVERRIDES = new Set(["totalTimesteps", "seed"]);

type Kind = "number" | "integer" | "boolean" | "enum" | "list" | "nullable-number";

function kindOf(schema: JsonSchemaProperty): Kind {
  if (schema.enum) return "enum";
  if (schema.anyOf) return "nullable-number";
  if (schema.type === "boolean") return "boolean";
  if (schema.type === "array") return "list";
  if (schema.type === "integer") return "integer";
  return "number";
}

interface HyperInput {
  name: string;
  kind: Kind;
  input: HTMLInputElement | HTMLSelectElement;
  read(): unknown;
  write(value: unknown): void;
}

function hyperInput(name: string, schema: JsonSchemaProperty): HyperInput {
  const kind = kindOf(schema);
  if (kind === "boolean") {
    const input = h("input", { type: "checkbox" });
    return { name, kind, input, read: () => input.checked, write: (v) => (input.checked = v === true) };
  }
  if (kind === "enum") {
    const input = h(
      "select",
      null,
      (schema.enum ?? []).map((v) => h("option", { value: v }, v)),
    );
    return { name, kind, input, read: () => input.value, write: (v) => (input.value = String(v)) };
  }
  const input = h("input", {
    type: kind === "list" ? "text" : "text",
    inputmode: kind === "integer" ? "numeric" : kind === "list" ? "text" : "decimal",
    autocomplete: "off",
    spellcheck: "false",
  });
  return {
    name,
    kind,
    input,
    read() {
      const raw = input.value.trim();
      if (kind === "list")
        return raw
          .split(/[\s,]+/)
          .filter(Boolean)
          .map(Number);
      if (kind === "nullable-number" && raw === "") return null;
      // An unparsable value goes to the server as it is, so that its message names the field.
      return raw !== "" && Number.isFinite(Number(raw)) ? Number(raw) : raw;
    },
    write(v) {
      input.value = Array.isArray(v) ? v.join(", ") : v === null || v === undefined ? "" : String(v);
    },
  };
}

interface NumberRule {
  integer: boolean;
  minimum?: number;
  exclusiveMinimum?: number;
  maximum?: number;
  /** Empty means "none" (a nullable hyperparameter) rather than a missing value. */
  optional?: boolean;
}

/** What is wrong with a number typed into the form, in the words of contracts/problems.ts; null: nothing. */
function numberProblem(raw: string, rule: NumberRule): string | null {
  const text = raw.trim();
  if (text === "") return rule.optional ? null : "must not be empty";
  const n = Number(text);
  if (!Number.isFinite(n)) return rule.integer ? "must be a whole number" : "must be a number";
  if (rule.integer && !Number.isInteger(n)) return "must be a whole number";
  if (rule.minimum !== undefined && n < rule.minimum) return `must be at least ${rule.minimum}`;
  if (rule.exclusiveMinimum !== undefined && n <= rule.exclusiveMinimum)
    return `must be greater than ${rule.exclusiveMinimum}`;
  if (rule.maximum !== undefined && n > rule.maximum) return `must be at most ${rule.maximum}`;
  return null;
}

/** A hyperparameter's number rule from the catalog's schema (the one the API validates with). */
function ruleOf(hi: HyperInput, schema: JsonSchemaProperty): NumberRule | null {
  if (hi.kind !== "number" && hi.kind !== "integer" && hi.kind !== "nullable-number") return null;
  const numeric = hi.kind === "nullable-number" ? schema.anyOf?.find((s) => s.type !== "null") : schema;
  if (!numeric) return null;
  return {
    integer: numeric.type === "integer",
    minimum: numeric.minimum,
    exclusiveMinimum: numeric.exclusiveMinimum,
    maximum: numeric.maximum,
    optional: hi.kind === "nullable-number",
  };
}

function rangeText(schema: JsonSchemaProperty): string {
  const lo = schema.minimum ?? schema.exclusiveMinimum;
  const parts: string[] = [];
  if (lo !== undefined) parts.push(`${schema.exclusiveMinimum !== undefined ? ">" : "≥"} ${lo}`);
  if (schema.maximum !== undefined) parts.push(`≤ ${schema.maximum}`);
  return parts.length > 0 ? ` (${parts.join(", ")})` : "";
}

/**
 * The caller's environments defined by code (passed submissions of the custom-environment exercise),
 * as run form entries: CleanRL's preset of a built-in env with the same kind of actions, which is what
 * the API resolves for them.
 */
async function customEnvs(): Promise<CatalogEnv[]> {
  const page = await api.get<{
    items: {
      envId: string | null;
      envSpec: { actionSpace: { kind: string }; maxEpisodeSteps: number } | null;
    }[];
  }>("/api/v1/exercises/custom-environment/submissions?limit=100");
  const like = (kind: string) =>
    catalog.envs.find((e) => e.id === (kind === "box" ? "Pendulum-v1" : "CartPole-v1"));
  return page.items.flatMap((s) => {
    const template = s.envId && s.envSpec ? like(s.envSpec.actionSpace.kind) : undefined;
    if (!s.envId || !s.envSpec || !template?.presets["cleanrl"]) return [];
    return [
      {
        id: s.envId,
        observationShape: [],
        actionSpace: s.envSpec.actionSpace.kind,
        maxEpisodeSteps: s.envSpec.maxEpisodeSteps,
        presets: { cleanrl: template.presets["cleanrl"] },
      },
    ];
  });
}

export const newRunPage: Page = (main) => {
  const envs: CatalogEnv[] = [...catalog.envs];
  const envSelect = h(
    "select",
    { required: true },
    envs.map((e) => h("option", { value: e.id }, e.id)),
  );
  const presetSelect = h("select");
  const runName = h("input", { type: "text", autocomplete: "off", maxlength: RUN_NAME_MAX });
  const runTags = h("input", { type: "text", autocomplete: "off", spellcheck: "false" });
  const totalSteps = h("input", { type: "text", inputmode: "numeric", autocomplete: "off" });
  const seed = h("input", { type: "text", inputmode: "numeric", autocomplete: "off" });
  const runners = h("input", { type: "text", inputmode: "numeric", autocomplete: "off", value: "1" });
  // The box is shown to those whose quota allows a GPU (the API refuses it to the others): by role
  // until the caller's effective quota (an admin may have overridden it) arrives.
  const gpu = h("input", { type: "checkbox" });
  const gpuField = field({
    name: "resources.gpu",
    label: "GPU learner",
    input: gpu,
    description: "Run the PPO update on a GPU node of the pool.",
  });
  gpuField.hidden = api.me?.role === "learner";
  const quotaLine = h("p", { class: "muted", "data-quota": "" });
  api
    .get<UserQuotas>("/api/v1/me/quotas")
    .then(({ effective: q }) => {
      gpuField.hidden = !q.gpu;
      if (!q.gpu) gpu.checked = false;
      quotaLine.textContent = `Your quota: ${q.concurrentRuns} active runs at once; per run at most ${q.runnersPerRun} runners and ${q.totalSteps.toLocaleString("en")} steps; GPU: ${q.gpu ? "yes" : "no"}.`;
    })
    .catch(() => {
      // The form works without it: the API still checks every launch against the quota.
    });
  const props = catalog.hyperparameters.properties;
  const inputs = Object.keys(props)
    .filter((name) => !NOT_OVERRIDES.has(name))
    .map((name) => hyperInput(name, props[name]!));
  const hyperField = (hi: HyperInput) =>
    field({
      name: `hyperparameters.${hi.name}`,
      label: hi.name,
      input: hi.input,
      description: `${props[hi.name]?.description ?? ""}${rangeText(props[hi.name] ?? {})}`,
    });
  const status = h("div", { class: "form-status" });
  const submit = h("button", { type: "submit", class: "primary" }, "Launch");

  let preset: Record<string, unknown> = {};
  const fillFromPreset = () => {
    const env = envs.find((e) => e.id === envSelect.value)!;
    const names = Object.keys(env.presets);
    const chosen = names.includes(presetSelect.value) ? presetSelect.value : names[0]!;
    presetSelect.replaceChildren(...names.map((p) => h("option", { value: p }, p)));
    presetSelect.value = chosen;
    preset = env.presets[chosen] ?? {};
    for (const hi of inputs) hi.write(preset[hi.name]);
    totalSteps.value = String(preset["totalTimesteps"] ?? "");
    seed.value = String(preset["seed"] ?? 1);
  };
  if (catalog.envs.some((e) => e.id === "CartPole-v1")) envSelect.value = "CartPole-v1";
  envSelect.addEventListener("change", fillFromPreset);
  // `?env=custom:…` (from a passed environment submission) preselects that env once it is listed.
  const wanted = new URLSearchParams(location.search).get("env");
  customEnvs()
    .then((mine) => {
      if (mine.length === 0) return;
      envs.push(...mine);
      envSelect.append(
        h(
          "optgroup",
          { label: "Your environments" },
          mine.map((e) => h("option", { value: e.id }, e.id)),
        ),
      );
      if (wanted && mine.some((e) => e.id === wanted)) {
        envSelect.value = wanted;
        fillFromPreset();
      }
    })
    .catch(() => {
      // Without its list the form still offers every built-in env.
    });
  presetSelect.addEventListener("change", fillFromPreset);

  const form = h(
    "form",
    { class: "card", novalidate: true },
    h("h1", null, "New run"),
    quotaLine,
    h(
      "fieldset",
      null,
      h("legend", null, "Experiment"),
      h(
        "div",
        { class: "grid" },
        field({
          name: "name",
          label: "Name",
          input: runName,
          description: "Optional: what people call the run.",
        }),
        field({
          name: "tags",
          label: "Tags",
          input: runTags,
          description: `Optional: up to ${RUN_TAGS_MAX}, separated by commas or spaces.`,
        }),
        field({ name: "env", label: "Environment", input: envSelect }),
        field({
          name: "preset",
          label: "Preset",
          input: presetSelect,
          description: "CleanRL's defaults, or rl-baselines3-zoo's tuned values where it has some.",
        }),
        field({
          name: "totalSteps",
          label: "Total steps",
          input: totalSteps,
          description: "Environment steps to train for, summed over all environments.",
        }),
        field({ name: "seed", label: "Seed", input: seed, description: "Seed of every random choice." }),
        field({
          name: "resources.runners",
          label: "Runners",
          input: runners,
          description: "Env runners (worker slots) the run uses; must divide numEnvs.",
        }),
        gpuField,
      ),
    ),
    h(
      "fieldset",
      null,
      h("legend", null, "Hyperparameters"),
      h(
        "div",
        { class: "grid" },
        inputs.filter((hi) => MAIN_HYPERPARAMETERS.includes(hi.name)).map(hyperField),
      ),
      h(
        "details",
        null,
        h("summary", null, "More hyperparameters"),
        h(
          "div",
          { class: "grid" },
          inputs.filter((hi) => !MAIN_HYPERPARAMETERS.includes(hi.name)).map(hyperField),
        ),
      ),
    ),
    status,
    h("div", { class: "actions" }, submit, h("a", { href: "/runs" }, "Cancel")),
  );
  fillFromPreset();

  const asNumber = (raw: string): unknown => {
    const trimmed = raw.trim();
    return trimmed !== "" && Number.isFinite(Number(trimmed)) ? Number(trimmed) : trimmed;
  };

  /**
   * Every number of the form, checked here against the same bounds, so that a refused request's
   * problems are told in the words of what was typed ("must not be empty" for an empty box); the API
   * names every bad field too (hyperparameters included), and what needs the server (a preset's
   * cross-field rules, quotas) comes from it alone.
   */
  const formProblems = (): FieldProblem[] => {
    const checks: [string, string, NumberRule][] = [
      ["totalSteps", totalSteps.value, { integer: true, minimum: 1 }],
      ["seed", seed.value, { integer: true, minimum: 0 }],
      ["resources.runners", runners.value, { integer: true, minimum: 1 }],
    ];
    for (const hi of inputs) {
      const rule = ruleOf(hi, props[hi.name] ?? {});
      if (rule) checks.push([`hyperparameters.${hi.name}`, (hi.input as HTMLInputElement).value, rule]);
    }
    return checks.flatMap(([name, raw, rule]) => {
      const message = numberProblem(raw, rule);
      return message ? [{ field: name, message }] : [];
    });
  };
  const withFormProblems = (server: readonly FieldProblem[]): FieldProblem[] => {
    // The form's own words win for a field both name: they speak of what was typed ("must not be
    // empty" rather than the request's "must be a number" for an empty box).
    const local = formProblems();
    const named = new Set(local.map((p) => p.field));
    return [...local, ...server.filter((p) => !named.has(p.field))];
  };
  const needChanges = () =>
    status.replaceChildren(
      h("p", { class: "error", role: "alert" }, "Some fields need a change: see the messages below them."),
    );

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    status.replaceChildren();
    const hyperparameters: Record<string, unknown> = {};
    for (const hi of inputs) {
      const value = hi.read();
      if (JSON.stringify(value) !== JSON.stringify(preset[hi.name])) hyperparameters[hi.name] = value;
    }
    const tags = parseTags(runTags.value);
    const body = {
      ...(runName.value.trim() ? { name: runName.value.trim() } : {}),
      ...(tags.length > 0 ? { tags } : {}),
      env: envSelect.value,
      preset: presetSelect.value,
      totalSteps: asNumber(totalSteps.value),
      seed: asNumber(seed.value),
      hyperparameters,
      resources: { runners: asNumber(runners.value), ...(gpu.checked ? { gpu: true } : {}) },
    };
    submit.disabled = true;
    try {
      const run = await api.post<Run>("/api/v1/runs", body);
      navigate(`/runs/${run.id}`);
    } catch (err) {
      const problems =
        err instanceof ApiError && err.errors.length > 0 ? withFormProblems(onTagsBox(err.errors, tags)) : [];
      const unclaimed = showFieldErrors(form, problems);
      if (problems.length === 0 || unclaimed.length > 0) {
        status.replaceChildren(errorBox(err));
        if (unclaimed.length > 0) {
          status.append(
            h(
              "ul",
              { class: "error" },
              unclaimed.map((p) => h("li", null, `${p.field}: ${plainFieldMessage(p.message)}`)),
            ),
          );
        }
      } else {
        needChanges();
      }
    } finally {
      submit.disabled = false;
    }
  });
  main.append(form);
  return undefined;
};
