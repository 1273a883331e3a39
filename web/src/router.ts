/**
 * History-API routing: a route is a path pattern with `:name` parts and a page function that fills
 * the main element and returns its cleanup (unsubscribe, stop timers). Same-origin link clicks are
 * intercepted, so that the shell and the WebSocket survive navigation; the server answers every such
 * path with index.html (api/static.ts), so a reload lands on the same page.
 */
export type Cleanup = () => void;
export type Page = (
  main: HTMLElement,
  params: Record<string, string>,
  query: URLSearchParams,
) => Cleanup | undefined;

interface Route {
  pattern: RegExp;
  names: string[];
  page: Page;
  title: string;
}

export class Router {
  private readonly routes: Route[] = [];
  private cleanup: Cleanup | undefined;
  private rendered = false;
  /** Asked before every render: returns a path to go to instead (the login page, say), or null. */
  guard: (path: string) => string | null = () => null;
  onNavigate: (path: string) => void = () => {};

  constructor(private readonly main: HTMLElement) {
    window.addEventListener("popstate", () => this.render());
    document.addEventListener("click", (event) => {
      const a = (event.target as Element | null)?.closest?.("a");
      if (!a || event.defaultPrevented || event.button !== 0) return;
      if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
      if (a.target || a.hasAttribute("download")) return;
      const url = new URL(a.href, location.href);
      if (url.origin !== location.origin || url.pathname.startsWith("/api/")) return;
      event.preventDefault();
      this.go(url.pathname + url.search);
    });
  }

  add(path: string, title: string, page: Page): this {
    const names: string[] = [];
    const source = path.replace(/:([a-zA-Z]+)/g, (_, name: string) => {
      names.push(name);
      return "([^/]+)";
    });
    this.routes.push({ pattern: new RegExp(`^${source}/?$`), names, page, title });
    return this;
  }

  go(path: string, replace = false): void {
    if (replace) history.replaceState(null, "", path);
    else history.pushState(null, "", path);
    this.render();
  }

  render(): void {
    const redirect = this.guard(location.pathname);
    if (redirect && redirect !== location.pathname) {
      history.replaceState(null, "", redirect);
    }
    this.cleanup?.();
    this.cleanup = undefined;
    this.main.replaceChildren();
    const path = location.pathname;
    for (const route of this.routes) {
      const match = route.pattern.exec(path);
      if (!match) continue;
      const params = Object.fromEntries(route.names.map((n, i) => [n, decodeURIComponent(match[i + 1]!)]));
      document.title = `${route.title} · Proxima`;
      this.cleanup = route.page(this.main, params, new URLSearchParams(location.search)) ?? undefined;
      this.onNavigate(path);
      // On the first render the browser's own focus order applies (the skip link comes first).
      if (this.rendered) this.focusMain();
      this.rendered = true;
      return;
    }
    document.title = "Not found · Proxima";
    const p = document.createElement("p");
    p.textContent = `Nothing here: ${path}`;
    this.main.append(p);
    this.onNavigate(path);
  }

  /** Moves keyboard focus to the new page's heading, as a page load would, for screen readers too. */
  private focusMain(): void {
    queueMicrotask(() => {
      const heading = this.main.querySelector("h1");
      if (heading) {
        heading.setAttribute("tabindex", "-1");
        heading.focus({ preventScroll: true });
      }
    });
  }
}
