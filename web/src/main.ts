import "katex/dist/katex.min.css";
import "uplot/dist/uPlot.min.css";
import "./styles.css";
import { api, errorBox, live, navigate, setRouter } from "./app.ts";
import { h } from "./dom.ts";
import { userPage, usersPage, workersPage } from "./pages/admin.ts";
import { loginPage, registerPage } from "./pages/auth.ts";
import { comparePage } from "./pages/compare.ts";
import { allProgressPage, exercisesPage, progressPage } from "./pages/exercises.ts";
import { runPage } from "./pages/run.ts";
import { newRunPage, runsPage } from "./pages/runs.ts";
import { sweepPage, sweepsPage } from "./pages/sweeps.ts";
import { type Page, Router } from "./router.ts";

/**
 * The dashboard's entry point: the shell (skip link, navigation, connection state, account), the
 * routes, and the session restored from the refresh cookie before the first page renders.
 */
const PUBLIC = new Set(["/login", "/register"]);

function onlyFor(roles: string[], page: Page): Page {
  return (main, params, query) => {
    if (!api.me || !roles.includes(api.me.role)) {
      main.append(h("h1", null, "Not allowed"), h("p", null, `This page is for: ${roles.join(", ")}.`));
      return undefined;
    }
    return page(main, params, query);
  };
}

/** A page whose code is a separate chunk, fetched on first use (the editor is most of the bundle). */
function lazy(load: () => Promise<Page>): Page {
  return (main, params, query) => {
    let cleanup: (() => void) | undefined;
    let disposed = false;
    load()
      .then((page) => {
        if (!disposed) cleanup = page(main, params, query) ?? undefined;
      })
      .catch((err) => main.replaceChildren(errorBox(err)));
    return () => {
      disposed = true;
      cleanup?.();
    };
  };
}

function shell(): { main: HTMLElement; nav: HTMLElement; account: HTMLElement } {
  const main = h("main", { id: "main" });
  const nav = h("nav", { "aria-label": "Main" });
  const account = h("div", { class: "account" });
  const connection = h("span", { class: "connection", role: "status", "data-state": "closed" });
  live.onState((state) => {
    connection.dataset["state"] = state;
    connection.textContent = state === "open" ? "live" : state === "connecting" ? "reconnecting…" : "";
  });
  document
    .getElementById("app")!
    .append(
      h("a", { href: "#main", class: "skip-link" }, "Skip to content"),
      h(
        "header",
        { class: "topbar" },
        h("a", { href: "/runs", class: "brand" }, "Proxima"),
        nav,
        h("div", { class: "topbar-right" }, connection, account),
      ),
      main,
    );
  return { main, nav, account };
}

function renderNav(nav: HTMLElement, account: HTMLElement, path: string): void {
  const me = api.me;
  const links: [string, string][] = me
    ? [
        ["/runs", "Runs"],
        ["/sweeps", "Sweeps"],
        ["/exercises", "Exercises"],
        ["/progress", "My progress"],
        ...(me.role !== "learner" ? ([["/admin/workers", "Workers"]] as [string, string][]) : []),
        ...(me.role === "admin"
          ? ([
              ["/admin/users", "Users"],
              ["/admin/progress", "All progress"],
            ] as [string, string][])
          : []),
      ]
    : [
        ["/login", "Log in"],
        ["/register", "Register"],
      ];
  nav.replaceChildren(
    h(
      "ul",
      null,
      links.map(([href, label]) =>
        h(
          "li",
          null,
          h(
            "a",
            { href, "aria-current": path === href || path.startsWith(`${href}/`) ? "page" : null },
            label,
          ),
        ),
      ),
    ),
  );
  if (!me) {
    account.replaceChildren();
    return;
  }
  const logout = h("button", { type: "button", class: "link" }, "Log out");
  logout.addEventListener("click", async () => {
    live.stop();
    await api.logout().catch(() => {});
    navigate("/login", true);
  });
  account.replaceChildren(
    h("span", { class: "who", "data-role": me.role }, `${me.name || me.email} (${me.role})`),
    logout,
  );
}

async function start(): Promise<void> {
  const { main, nav, account } = shell();
  const router = new Router(main);
  setRouter(router);
  router
    .add("/login", "Log in", loginPage)
    .add("/register", "Register", registerPage)
    .add("/runs", "Runs", runsPage)
    .add("/runs/new", "New run", newRunPage)
    .add("/runs/:id", "Run", runPage)
    .add("/compare", "Compare runs", comparePage)
    .add("/sweeps", "Sweeps", sweepsPage)
    .add("/sweeps/:id", "Sweep", sweepPage)
    .add("/exercises", "Exercises", exercisesPage)
    .add(
      "/exercises/:id",
      "Exercise",
      lazy(async () => (await import("./pages/exercise.ts")).exercisePage),
    )
    .add("/progress", "My progress", progressPage)
    .add("/admin/progress", "All progress", onlyFor(["admin"], allProgressPage))
    .add("/admin/workers", "Workers", onlyFor(["researcher", "admin"], workersPage))
    .add("/admin/users", "Users", onlyFor(["admin"], usersPage))
    .add("/admin/users/:id", "User", onlyFor(["admin"], userPage));
  router.guard = (path) => {
    if (!api.loggedIn && !PUBLIC.has(path)) {
      return path === "/" ? "/login" : `/login?next=${encodeURIComponent(path)}`;
    }
    if (api.loggedIn && (PUBLIC.has(path) || path === "/")) return "/runs";
    return null;
  };
  router.onNavigate = (path) => renderNav(nav, account, path);
  api.onSessionLost = () => {
    live.stop();
    navigate(`/login?next=${encodeURIComponent(location.pathname)}`, true);
  };
  try {
    if (await api.restore()) live.start();
  } catch (err) {
    main.append(errorBox(err));
  }
  router.render();
}

void start();
