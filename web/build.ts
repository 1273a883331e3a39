/**
 * `npm run build:web`: bundles the dashboard (web/src) with esbuild into web/dist — one script and
 * one stylesheet with content hashes in their names (served with immutable caching), and an
 * index.html that names them (served with no-cache). The API builds on demand when web/dist is
 * missing or older than its sources (api/static.ts), so `npm install && npm start` serves it.
 *
 * The environment list and the hyperparameter schema (descriptions, bounds, presets) are compiled
 * into the bundle as the virtual module `proxima:catalog`, from the same code the API validates with.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { listEnvs } from "../rl/envs/registry.ts";
import {
  hyperparametersJsonSchema,
  PRESETS,
  presetFor,
  presetsFor,
  validateHyperparameters,
} from "../rl/ppo/hyperparameters.ts";

export const WEB_DIR = path.dirname(fileURLToPath(import.meta.url));
export const DIST_DIR = path.join(WEB_DIR, "dist");
export const MANIFEST = "manifest.json";

/** Files outside web/ whose content ends up in the bundle. */
const EXTRA_INPUTS = ["../rl/ppo/hyperparameters.ts", "../rl/envs/registry.ts"].map((p) =>
  path.join(WEB_DIR, p),
);

export interface BuildResult {
  outdir: string;
  files: string[];
  ms: number;
  bytes: number;
}

function catalog() {
  return {
    envs: listEnvs().map((e) => ({
      ...e,
      // Validated, so that fields a preset leaves to their defaults show those defaults.
      presets: Object.fromEntries(
        presetsFor(e.id).map((p) => [p, validateHyperparameters(presetFor(e.id, p))]),
      ),
    })),
    presets: PRESETS,
    hyperparameters: hyperparametersJsonSchema(),
  };
}

/**
 * KaTeX's stylesheet offers each font as woff2, woff and ttf; every browser the bundle targets
 * reads woff2 (caniuse: Chrome 36, Firefox 39, Safari 12), so the older formats are dropped
 * rather than copied into web/dist (about 1 MB).
 */
const katexWoff2Only: import("esbuild").Plugin = {
  name: "katex-woff2-only",
  setup(build) {
    build.onLoad({ filter: /[\\/]katex[\\/]dist[\\/]katex\.min\.css$/ }, async (args) => {
      const css = await readFile(args.path, "utf8");
      return {
        contents: css.replace(/,url\([^)]+\.(?:woff|ttf)\) format\("(?:woff|truetype)"\)/g, ""),
        loader: "css",
        resolveDir: path.dirname(args.path),
      };
    });
  },
};

function indexHtml(script: string, stylesheet: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<title>Proxima</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/${stylesheet}">
<script type="module" src="/${script}"></script>
</head>
<body>
<noscript>The Proxima dashboard needs JavaScript. The API is documented at <a href="/api/v1/docs">/api/v1/docs</a>.</noscript>
<div id="app"></div>
</body>
</html>
`;
}

/**
 * Builds into a private folder, then moves the files into `outdir` one by one (a rename is atomic),
 * index.html and the manifest last: a server reading `outdir` meanwhile sees the old or the new
 * page, never one naming files that are not there yet. Hashed names mean concurrent builds write
 * identical files.
 */
export async function buildWeb(opts: { outdir?: string; clean?: boolean } = {}): Promise<BuildResult> {
  const started = performance.now();
  const esbuild = await import("esbuild");
  const outdir = opts.outdir ?? DIST_DIR;
  const staging = path.join(outdir, `.staging-${process.pid}-${randomBytes(4).toString("hex")}`);
  const data = JSON.stringify(catalog());
  try {
    const result = await esbuild.build({
      entryPoints: { main: path.join(WEB_DIR, "src/main.ts") },
      bundle: true,
      format: "esm",
      platform: "browser",
      target: ["es2022", "chrome110", "firefox110", "safari16"],
      minify: true,
      sourcemap: "linked",
      legalComments: "linked",
      outdir: staging,
      // Pages that need big libraries (the code editor) are chunks loaded on first use.
      splitting: true,
      entryNames: "assets/[name]-[hash]",
      chunkNames: "assets/[name]-[hash]",
      assetNames: "assets/[name]-[hash]",
      metafile: true,
      logLevel: "silent",
      // KaTeX's fonts (its stylesheet names them), hashed like every asset and served from our origin.
      loader: { ".woff2": "file" },
      plugins: [
        katexWoff2Only,
        {
          name: "proxima-catalog",
          setup(build) {
            build.onResolve({ filter: /^proxima:catalog$/ }, () => ({
              path: "catalog",
              namespace: "proxima",
            }));
            build.onLoad({ filter: /.*/, namespace: "proxima" }, () => ({ contents: data, loader: "json" }));
          },
        },
      ],
    });
    const outputs = Object.keys(result.metafile.outputs).map((p) => path.relative(staging, p));
    const script = outputs.find((p) => p.startsWith("assets/main-") && p.endsWith(".js"));
    const stylesheet = outputs.find((p) => p.startsWith("assets/main-") && p.endsWith(".css"));
    if (!script || !stylesheet) throw new Error(`the bundle lacks its script or stylesheet: ${outputs}`);
    await writeFile(path.join(staging, "index.html"), indexHtml(script, stylesheet));
    // Gzip copies of the scripts and stylesheets, served to clients that accept them (api/static.ts).
    for (const file of outputs.filter((f) => /\.(js|css)$/.test(f))) {
      const bytes = await readFile(path.join(staging, file));
      await writeFile(path.join(staging, `${file}.gz`), gzipSync(bytes, { level: 9 }));
      outputs.push(`${file}.gz`);
    }
    const files = [...outputs, "index.html"];
    await writeFile(path.join(staging, MANIFEST), `${JSON.stringify({ files }, null, 2)}\n`);

    await mkdir(path.join(outdir, "assets"), { recursive: true });
    let bytes = 0;
    for (const file of [...outputs, "index.html", MANIFEST]) {
      const target = path.join(outdir, file);
      await mkdir(path.dirname(target), { recursive: true });
      bytes += (await stat(path.join(staging, file))).size;
      await rename(path.join(staging, file), target);
    }
    if (opts.clean) await removeOthers(outdir, new Set([...outputs, "index.html", MANIFEST]));
    return { outdir, files, ms: performance.now() - started, bytes };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** Deletes earlier builds' files (not other builds' staging folders, which may be in use). */
async function removeOthers(outdir: string, keep: Set<string>): Promise<void> {
  for (const dir of [outdir, path.join(outdir, "assets")]) {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const rel = path.relative(outdir, path.join(dir, entry.name));
      if (entry.isFile() && !keep.has(rel)) await rm(path.join(dir, entry.name), { force: true });
    }
  }
}

async function newestMtime(dir: string, skip: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (full === skip || entry.name.startsWith(".")) continue;
    if (entry.isDirectory()) newest = Math.max(newest, await newestMtime(full, skip));
    else newest = Math.max(newest, (await stat(full)).mtimeMs);
  }
  return newest;
}

/** Whether `outdir` lacks a build, or is older than a source of the bundle. */
export async function webBuildIsStale(outdir = DIST_DIR): Promise<boolean> {
  let built: number;
  try {
    built = (await stat(path.join(outdir, MANIFEST))).mtimeMs;
  } catch {
    return true;
  }
  let newest = await newestMtime(WEB_DIR, outdir);
  for (const file of EXTRA_INPUTS) newest = Math.max(newest, (await stat(file)).mtimeMs);
  return newest > built;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const r = await buildWeb({ clean: true });
  process.stdout.write(
    `web: ${r.files.length} files, ${(r.bytes / 1024).toFixed(0)} KiB in ${path.relative(process.cwd(), r.outdir)} (${r.ms.toFixed(0)} ms)\n`,
  );
}
