import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import test from "ava";

/**
 * The layout is the architecture (README, Layout): contracts → rl / sweeps (pure) → actors → services
 * → api / web / cli. These tests read every source file's imports (type-only ones too: a type that
 * runs back up is still an arrow back up) and hold the map to it: no folder imports one above it, no
 * cycle between files, and no import of db/ from api/, actors/ or web/.
 */
const ROOT = path.resolve(import.meta.dirname, "../..");
const FOLDERS = [
  "contracts",
  "rl",
  "sweeps",
  "exercises",
  "sandbox",
  "actors",
  "lib",
  "db",
  "services",
  "api",
  "cli",
  "web",
] as const;
type Folder = (typeof FOLDERS)[number] | "(root)";

/** What each folder may import besides itself; `(root)` is config.ts, platform.ts and the like. */
const MAY_IMPORT: Record<Folder, readonly Folder[]> = {
  contracts: [],
  rl: ["contracts"],
  sweeps: ["contracts", "rl"],
  sandbox: ["contracts", "rl"],
  exercises: ["contracts", "rl", "sandbox"],
  actors: ["contracts", "rl", "sweeps", "sandbox"],
  lib: ["contracts", "rl", "(root)"],
  db: ["contracts", "rl", "sweeps", "exercises", "lib", "(root)"],
  services: ["contracts", "rl", "sweeps", "exercises", "sandbox", "actors", "lib", "db", "(root)"],
  api: ["contracts", "rl", "sweeps", "lib", "services", "(root)"],
  cli: ["contracts", "rl", "sweeps", "exercises", "sandbox", "actors", "lib", "db", "services", "(root)"],
  web: ["contracts"],
  "(root)": FOLDERS,
};

function sourceFiles(): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = path.join(dir, name);
      if (statSync(p).isDirectory()) {
        if (!["node_modules", "dist", "migrations"].includes(name)) walk(p);
      } else if (p.endsWith(".ts") && !p.endsWith(".d.ts")) files.push(p);
    }
  };
  for (const folder of FOLDERS) walk(path.join(ROOT, folder === "web" ? "web/src" : folder));
  for (const name of readdirSync(ROOT)) if (name.endsWith(".ts")) files.push(path.join(ROOT, name));
  return files;
}

const STATIC_IMPORT = /(?:^|\n)\s*(?:import|export)\s+(?:type\s+)?(?:[^;"]*?\s+from\s+)?"(\.[^"]+)"/g;
const DYNAMIC_IMPORT = /import\(\s*"(\.[^"]+)"\s*\)/g;

/** Each file's relative imports, resolved to files of the tree. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles()) {
    const text = readFileSync(file, "utf8");
    const specs = [...text.matchAll(STATIC_IMPORT), ...text.matchAll(DYNAMIC_IMPORT)].map((m) => m[1]!);
    graph.set(
      path.relative(ROOT, file),
      specs.map((s) => path.relative(ROOT, path.resolve(path.dirname(file), s))),
    );
  }
  return graph;
}

function folderOf(file: string): Folder {
  const [top, ...rest] = file.split(path.sep);
  return rest.length === 0 ? "(root)" : (top as Folder);
}

/** Strongly connected components of more than one file (Tarjan 1972). */
function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

const graph = importGraph();

test("the import graph reads the whole tree", (t) => {
  t.true(graph.size > 200, `${graph.size} files`);
  t.true(graph.get("api/routes/runs.ts")?.includes("contracts/run-status.ts"));
});

test("no folder imports one above it in the layout's order", (t) => {
  const upward: string[] = [];
  for (const [file, deps] of graph) {
    const from = folderOf(file);
    for (const dep of deps) {
      const to = folderOf(dep);
      if (to !== from && !MAY_IMPORT[from].includes(to)) upward.push(`${file} → ${dep}`);
    }
  }
  t.deepEqual(upward, []);
});

test("no import cycle between source files, type-only imports included", (t) => {
  t.deepEqual(cycles(graph), []);
});

test("api/, actors/ and web/ never import db/: their domain types come from contracts/", (t) => {
  const offenders = [...graph].flatMap(([file, deps]) =>
    ["api", "actors", "web"].includes(folderOf(file))
      ? deps.filter((d) => folderOf(d) === "db").map((d) => `${file} → ${d}`)
      : [],
  );
  t.deepEqual(offenders, []);
});
