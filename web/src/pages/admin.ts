import { QUOTA_LIMITS, type QuotaKey, type QuotaOverride } from "../../../contracts/quota-limits.ts";
import type { UserQuotas } from "../../../contracts/quotas.ts";
import { ROLES } from "../../../contracts/roles.ts";
import type { WorkerStatus } from "../../../contracts/workers.ts";
import { ApiError, type Role, type User } from "../api.ts";
import { api, clearFieldErrors, errorBox, field, showFieldErrors } from "../app.ts";
import { fmtDate, h } from "../dom.ts";
import type { Page } from "../router.ts";

/**
 * Administration: accounts, roles and per-user quotas (admins), the worker pool (researchers and
 * admins).
 */

export const usersPage: Page = (main) => {
  const body = h("tbody");
  const status = h("div", { class: "form-status" });
  const more = h("button", { type: "button", hidden: true }, "Load more");
  main.append(
    h("div", { class: "page-head" }, h("h1", null, "Users")),
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
            ["Email", "Name", "Role", "Disabled", "Created"].map((c) => h("th", { scope: "col" }, c)),
          ),
        ),
        body,
      ),
    ),
    more,
  );
  let cursor: string | null = null;

  const row = (user: User) => {
    const role = h(
      "select",
      { "aria-label": `Role of ${user.email}` },
      ROLES.map((r) => h("option", { value: r }, r)),
    );
    role.value = user.role;
    const disabled = h("input", {
      type: "checkbox",
      "aria-label": `${user.email} is disabled`,
      checked: user.disabled,
    });
    const save = async (patch: Partial<User>, undo: () => void) => {
      status.replaceChildren();
      try {
        const changed = await api.patch<User>(`/api/v1/users/${user.id}`, patch);
        Object.assign(user, changed);
        status.replaceChildren(h("p", { class: "ok", role: "status" }, `Saved ${user.email}.`));
      } catch (err) {
        undo();
        status.replaceChildren(errorBox(err));
      }
    };
    role.addEventListener("change", () => {
      const before = user.role;
      void save({ role: role.value as Role }, () => (role.value = before));
    });
    disabled.addEventListener("change", () => {
      void save({ disabled: disabled.checked }, () => (disabled.checked = !disabled.checked));
    });
    return h(
      "tr",
      { "data-user-id": user.id },
      h("td", null, h("a", { href: `/admin/users/${user.id}` }, user.email)),
      h("td", null, user.name),
      h("td", null, role),
      h("td", null, disabled),
      h("td", null, fmtDate(user.createdAt)),
    );
  };

  const load = async () => {
    try {
      const params = new URLSearchParams({ limit: "50" });
      if (cursor) params.set("cursor", cursor);
      const page = await api.get<{ items: User[]; nextCursor: string | null }>(`/api/v1/users?${params}`);
      body.append(...page.items.map(row));
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

const showLimit = (key: QuotaKey, value: number | boolean): string =>
  typeof value === "boolean"
    ? value
      ? "yes"
      : "no"
    : key === "flopsPerIteration"
      ? value.toExponential(1)
      : value.toLocaleString("en");

/**
 * One account and its quotas: for each limit the role's value, the override (empty: the role's) and
 * what applies now. Saving replaces the whole override (PUT), so an emptied box goes back to the
 * role's; the API's checks decide (its 422 is shown next to each field it names), and the user's
 * next request on any node is checked against the result.
 */
export const userPage: Page = (main, params) => {
  const id = params["id"]!;
  const heading = h("h1", null, "User");
  const summary = h("p", { class: "muted" });
  const status = h("div", { class: "form-status" });
  const inputs = new Map<QuotaKey, HTMLInputElement | HTMLSelectElement>();
  const fields = new Map<QuotaKey, HTMLElement>();
  for (const limit of QUOTA_LIMITS) {
    const input =
      limit.key === "gpu"
        ? h(
            "select",
            null,
            h("option", { value: "" }, "the role's"),
            h("option", { value: "true" }, "yes"),
            h("option", { value: "false" }, "no"),
          )
        : h("input", { type: "text", inputmode: "numeric", autocomplete: "off", placeholder: "the role's" });
    inputs.set(limit.key, input);
    fields.set(limit.key, field({ name: limit.key, label: limit.label, input }));
  }
  const save = h("button", { type: "submit", class: "primary" }, "Save quotas");
  const reset = h("button", { type: "button" }, "Clear overrides");
  const form = h(
    "form",
    { class: "card", novalidate: true, "aria-label": "Quotas" },
    h(
      "fieldset",
      null,
      h("legend", null, "Quotas"),
      h(
        "p",
        { class: "muted" },
        "Leave a box empty for the role's limit. A change applies to the user's next request.",
      ),
      h("div", { class: "grid" }, [...fields.values()]),
    ),
    status,
    h("div", { class: "actions" }, save, reset, h("a", { href: "/admin/users" }, "All users")),
  );
  main.append(h("div", { class: "page-head" }, heading), summary, form);

  const show = (q: UserQuotas) => {
    for (const limit of QUOTA_LIMITS) {
      const value = q.override[limit.key];
      inputs.get(limit.key)!.value = value === undefined ? "" : String(value);
      const role = showLimit(limit.key, q.roleQuota[limit.key]);
      const now = showLimit(limit.key, q.effective[limit.key]);
      const slot = fields.get(limit.key)!;
      slot.dataset["effective"] = String(q.effective[limit.key]);
      let note = slot.querySelector<HTMLElement>(".field-description");
      if (!note) {
        note = h("small", { class: "field-description" });
        slot.querySelector(".field-error")!.before(note);
      }
      note.textContent = `${q.role}: ${role} · now: ${now}`;
    }
    summary.textContent = q.updatedAt
      ? `Overrides set ${fmtDate(q.updatedAt)}.`
      : `No overrides: every limit is the ${q.role} role's.`;
  };

  /** The override the form describes; text that is not a number goes as typed, for the API to name. */
  const override = (): QuotaOverride => {
    const out: Record<string, unknown> = {};
    for (const [key, input] of inputs) {
      const raw = input.value.trim();
      if (raw === "") continue;
      if (key === "gpu") out[key] = raw === "true";
      else out[key] = Number.isFinite(Number(raw)) ? Number(raw) : raw;
    }
    return out as QuotaOverride;
  };

  const act = async (request: () => Promise<UserQuotas>, done: string) => {
    status.replaceChildren();
    clearFieldErrors(form);
    save.disabled = reset.disabled = true;
    try {
      show(await request());
      status.replaceChildren(h("p", { class: "ok", role: "status" }, done));
    } catch (err) {
      const unclaimed = err instanceof ApiError ? showFieldErrors(form, err.errors) : [];
      status.replaceChildren(
        errorBox(err),
        ...unclaimed.map((p) => h("p", { class: "error" }, `${p.field}: ${p.message}`)),
      );
    } finally {
      save.disabled = reset.disabled = false;
    }
  };
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    void act(() => api.put<UserQuotas>(`/api/v1/users/${id}/quotas`, override()), "Quotas saved.");
  });
  reset.addEventListener("click", () => {
    void act(() => api.delete<UserQuotas>(`/api/v1/users/${id}/quotas`), "Overrides cleared.");
  });

  void Promise.all([api.get<User>(`/api/v1/users/${id}`), api.get<UserQuotas>(`/api/v1/users/${id}/quotas`)])
    .then(([user, q]) => {
      heading.textContent = user.email;
      show(q);
    })
    .catch((err) => {
      form.hidden = true;
      status.replaceChildren(errorBox(err));
      main.append(status);
    });
  return undefined;
};

type WorkerNode = WorkerStatus;

/** Polled every 5 s: the pool changes as runs come and go and nodes join or leave. */
export const workersPage: Page = (main) => {
  const body = h("tbody");
  const summary = h("p", { class: "muted", role: "status" });
  const status = h("div", { class: "form-status" });
  main.append(
    h("div", { class: "page-head" }, h("h1", null, "Workers")),
    summary,
    status,
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { class: "workers" },
        h(
          "thead",
          null,
          h(
            "tr",
            null,
            ["Node", "Slots in use", "Free", "GPU", "Backend", "Runs"].map((c) =>
              h("th", { scope: "col" }, c),
            ),
          ),
        ),
        body,
      ),
    ),
  );
  let timer: ReturnType<typeof setTimeout> | undefined;
  let disposed = false;
  const load = async () => {
    try {
      const nodes = await api.get<WorkerNode[]>("/api/v1/workers");
      if (disposed) return;
      status.replaceChildren();
      const slots = nodes.reduce((n, w) => n + w.slots, 0);
      const used = nodes.reduce((n, w) => n + (w.slots - w.free), 0);
      summary.textContent = `${nodes.length} worker node${nodes.length === 1 ? "" : "s"}, ${used} of ${slots} slots in use.`;
      body.replaceChildren(
        ...nodes.map((w) => {
          const runs = [...new Set(w.runners.map((r) => r.runId))];
          return h(
            "tr",
            { "data-node": w.nodeID },
            h("td", null, w.nodeID),
            h(
              "td",
              null,
              h("meter", { min: 0, max: w.slots, value: w.slots - w.free, "aria-label": "slots in use" }),
              ` ${w.slots - w.free} / ${w.slots}`,
            ),
            h("td", { class: "num" }, String(w.free)),
            h("td", null, w.gpu ? "yes" : "no"),
            h("td", null, w.backend),
            h(
              "td",
              null,
              runs.length === 0
                ? "–"
                : runs.map((id, i) => [i > 0 ? ", " : "", h("a", { href: `/runs/${id}` }, id.slice(0, 8))]),
            ),
          );
        }),
      );
    } catch (err) {
      if (!disposed) status.replaceChildren(errorBox(err));
    }
    if (!disposed) timer = setTimeout(() => void load(), 5000);
  };
  void load();
  return () => {
    disposed = true;
    clearTimeout(timer);
  };
};
