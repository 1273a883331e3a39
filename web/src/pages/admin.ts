import { ROLES } from "../../../contracts/roles.ts";
import type { WorkerStatus } from "../../../contracts/workers.ts";
import type { Role, User } from "../api.ts";
import { api, errorBox } from "../app.ts";
import { fmtDate, h } from "../dom.ts";
import type { Page } from "../router.ts";

/** Administration: accounts and roles (admins), the worker pool (researchers and admins). */

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
      h("td", null, user.email),
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
