import { existsSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Middleware } from "koa";
import type { Logger } from "../lib/logger.ts";
import type { ApiState } from "./context.ts";
import { DASHBOARD_CSP } from "./middleware/security-headers.ts";

/**
 * The dashboard (web/), served at `/`: hashed assets under /assets/ with a year of immutable
 * caching, index.html with no-cache (so a new build is picked up at the next load), and index.html
 * for `/` and every other GET that asks for text/html (client-side routes such as /runs/<id> survive a
 * reload).
 * Paths of the API and the probes are never answered here, whatever their method or Accept header.
 *
 * `build: "auto"` (development, tests) builds web/dist with esbuild when it is missing or older than
 * its sources, on the first request that needs it: `npm install && npm start` serves a current
 * dashboard without a separate step. `"never"` (production) serves what the image's build produced.
 */
export const RESERVED_PREFIXES = ["/api", "/metrics", "/healthz", "/readyz", "/ws"];
const ASSET_CACHE = "public, max-age=31536000, immutable";
/** How often (at most) a page load in auto mode checks the sources' mtimes for a rebuild. */
const STALE_CHECK_MS = 1000;

const TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".html": "text/html; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".woff2": "font/woff2",
};

export interface DashboardOptions {
  build: "auto" | "never";
  logger: Logger;
  /** Defaults to web/dist of the repository this module belongs to. */
  root?: string;
}

/** The repository root: the nearest folder above this module with a package.json (src or compiled). */
function repositoryRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, "package.json"))) {
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return dir;
}

export function isReserved(pathname: string): boolean {
  return RESERVED_PREFIXES.some((p) => pathname === p || pathname.startsWith(`${p}/`));
}

interface BuildModule {
  buildWeb(opts: { outdir?: string }): Promise<{ ms: number; files: string[] }>;
  webBuildIsStale(outdir?: string): Promise<boolean>;
}

export function dashboard(opts: DashboardOptions): Middleware<ApiState> {
  const repo = repositoryRoot();
  const root = opts.root ?? path.join(repo, "web", "dist");
  let building: Promise<void> | undefined;
  let checkedAt = 0;
  let index: Buffer | undefined;

  /** Builds when stale; concurrent requests share one build. Failures are logged, then retried later. */
  const ensureBuilt = async (): Promise<void> => {
    if (opts.build === "never") return;
    if (Date.now() - checkedAt < STALE_CHECK_MS) return building;
    checkedAt = Date.now();
    building ??= (async () => {
      // A computed specifier: the production build (tsconfig.build.json) neither compiles nor ships web/.
      const specifier = path.join(repo, "web", "build.ts");
      const mod = (await import(specifier)) as BuildModule;
      if (!(await mod.webBuildIsStale(root))) return;
      const result = await mod.buildWeb({ outdir: root });
      opts.logger.info({ ms: Math.round(result.ms), files: result.files.length }, "dashboard built");
    })().finally(() => {
      building = undefined;
    });
    return building;
  };

  // In auto mode a build by another process (npm run build:web) may replace it at any time.
  const readIndex = async (): Promise<Buffer> => {
    if (opts.build === "auto") return readFile(path.join(root, "index.html"));
    index ??= await readFile(path.join(root, "index.html"));
    return index;
  };

  return async (ctx, next) => {
    if ((ctx.method !== "GET" && ctx.method !== "HEAD") || isReserved(ctx.path)) return next();

    if (ctx.path.startsWith("/assets/")) {
      const file = path.join(root, path.normalize(ctx.path));
      if (!file.startsWith(`${root}${path.sep}`) || !(await isFile(file))) return next();
      ctx.set("Cache-Control", ASSET_CACHE);
      ctx.vary("Accept-Encoding");
      ctx.type = TYPES[path.extname(file)] ?? "application/octet-stream";
      // The build wrote a gzip copy next to each script and stylesheet.
      if (ctx.acceptsEncodings("gzip", "identity") === "gzip" && (await isFile(`${file}.gz`))) {
        ctx.set("Content-Encoding", "gzip");
        ctx.body = await readFile(`${file}.gz`);
        return;
      }
      ctx.body = await readFile(file);
      return;
    }

    // Only navigations get the page (a browser's ask for text/html by name); a stray fetch of
    // /favicon.ico, /foo.js or /typo from a program gets the API's 404. `/` itself is the page for all.
    const navigation = ctx.path === "/" || /\btext\/html\b/.test(ctx.get("accept"));
    if (path.extname(ctx.path) !== "" || !navigation) return next();
    try {
      await ensureBuilt();
    } catch (err) {
      opts.logger.error({ err }, "the dashboard could not be built");
    }
    let page: Buffer;
    try {
      page = await readIndex();
    } catch {
      ctx.status = 503;
      ctx.type = TYPES[".txt"]!;
      ctx.body = "The dashboard is not built: run `npm run build:web`. The API itself is at /api/v1/docs.\n";
      return;
    }
    ctx.set("Content-Security-Policy", DASHBOARD_CSP);
    ctx.set("Cache-Control", "no-cache");
    ctx.type = TYPES[".html"]!;
    ctx.body = page;
  };
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}
