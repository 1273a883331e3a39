/**
 * TensorFlow.js backend selection: `PROXIMA_BACKEND` or an explicit name.
 *   wasm        @tensorflow/tfjs-backend-wasm (SIMD), the default
 *   cpu         @tensorflow/tfjs-backend-cpu (plain JavaScript)
 *   tensorflow  @tensorflow/tfjs-node-gpu or @tensorflow/tfjs-node (libtensorflow), when installed
 *   webgpu      @tensorflow/tfjs-backend-webgpu on the `webgpu` package's Dawn, when installed
 * Optional packages are imported by a computed specifier so that their absence is a clear error at
 * run time, not a build error.
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { registerTfjsGradients } from "./tfjs-gradients.ts";

export const BACKENDS = ["wasm", "cpu", "tensorflow", "webgpu"] as const;
export type BackendName = (typeof BACKENDS)[number];

export class BackendError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BackendError";
  }
}

export function parseBackendName(value: string | undefined): BackendName {
  const name = value ?? process.env.PROXIMA_BACKEND ?? "wasm";
  if (!(BACKENDS as readonly string[]).includes(name)) {
    throw new BackendError(`unknown backend "${name}" (choose one of: ${BACKENDS.join(", ")})`);
  }
  return name as BackendName;
}

const dynamicImport = (specifier: string): Promise<Record<string, unknown>> => import(specifier);

async function importOptional(specifiers: string[], backend: BackendName): Promise<Record<string, unknown>> {
  const errors: string[] = [];
  for (const s of specifiers) {
    try {
      return await dynamicImport(s);
    } catch (err) {
      errors.push(`${s}: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`);
    }
  }
  throw new BackendError(
    `backend "${backend}" needs ${specifiers.join(" or ")}, which could not be loaded (${errors.join("; ")})`,
  );
}

async function registerWasm(): Promise<void> {
  const wasm = await import("@tensorflow/tfjs-backend-wasm");
  const require = createRequire(import.meta.url);
  // The package's node entry is dist/tf-backend-wasm.node.js, beside the .wasm binaries.
  const dist = dirname(require.resolve("@tensorflow/tfjs-backend-wasm"));
  wasm.setWasmPaths(`${join(dist, "/")}`);
}

async function registerWebgpu(): Promise<void> {
  const webgpu = await importOptional(["webgpu"], "webgpu");
  const create = webgpu.create as (flags: string[]) => unknown;
  Object.assign(globalThis, webgpu.globals as object);
  const g = globalThis as { navigator?: { gpu?: unknown } };
  if (!g.navigator)
    Object.defineProperty(globalThis, "navigator", { value: {}, writable: true, configurable: true });
  g.navigator!.gpu = create([]);
  await importOptional(["@tensorflow/tfjs-backend-webgpu"], "webgpu");
}

let active: BackendName | null = null;

/** Loads and activates a backend (once per process); returns its name. */
export async function initBackend(requested?: string): Promise<BackendName> {
  const name = parseBackendName(requested);
  if (active === name) return name;
  if (name === "wasm") await registerWasm();
  else if (name === "cpu") await import("@tensorflow/tfjs-backend-cpu");
  else if (name === "tensorflow")
    await importOptional(["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"], name);
  else await registerWebgpu();
  let ok = false;
  try {
    ok = await tf.setBackend(name);
  } catch (err) {
    throw new BackendError(
      `backend "${name}" failed to initialise: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  if (!ok) throw new BackendError(`backend "${name}" failed to initialise (no adapter or device?)`);
  await tf.ready();
  // Training with tfjs needs the kernel gradients registered (see tfjs-gradients.ts).
  await registerTfjsGradients();
  active = name;
  return name;
}

export { tf };
