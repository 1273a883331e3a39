import { existsSync } from "node:fs";
import type { Config } from "../config.ts";
import type { Logger } from "./logger.ts";

/**
 * What a worker node may honestly advertise. `WORKER_GPU=true` and `PROXIMA_BACKEND=tensorflow` are
 * wishes: the GPU image installs `@tensorflow/tfjs-node-gpu`, but a pod scheduled without a GPU, a
 * driver mismatch or the CPU image would still claim one, and the scheduler would send GPU runs to
 * a node that trains them on a CPU. So a worker tries the backend at start and advertises
 * `gpu: true` / `backend: "tensorflow"` only when it loaded (the node metadata and the workers
 * service both read the config this returns).
 */
export interface AcceleratorProbe {
  /** Whether `@tensorflow/tfjs-node-gpu` resolves (the GPU build of libtensorflow is installed). */
  gpuPackage: boolean;
  /** Whether an NVIDIA device is visible to this process (the device plugin mounts /dev/nvidia*). */
  gpuDevice: boolean;
  /** Loads the `tensorflow` backend (tfjs-node-gpu, else tfjs-node); rejects when it cannot. */
  loadTensorflow(): Promise<void>;
}

export const systemProbe: AcceleratorProbe = {
  gpuPackage: resolves("@tensorflow/tfjs-node-gpu"),
  gpuDevice: existsSync("/dev/nvidiactl") || existsSync("/dev/nvidia0"),
  async loadTensorflow() {
    // Imported only here: tfjs is not loaded by workers that do not ask for the tensorflow backend.
    const { initBackend } = await import("../rl/nn/backend.ts");
    await initBackend("tensorflow");
  },
};

export type AcceleratorConfig = Pick<Config, "WORKER_GPU" | "PROXIMA_BACKEND">;

/** The config a process runs with once its wishes met the machine: unchanged unless it hosts workers. */
export async function resolveAccelerator<C extends AcceleratorConfig>(
  config: C,
  services: readonly string[],
  logger: Pick<Logger, "info" | "warn">,
  probe: AcceleratorProbe = systemProbe,
): Promise<C> {
  const wantsTensorflow = config.WORKER_GPU || config.PROXIMA_BACKEND === "tensorflow";
  if (!services.includes("workers") || !wantsTensorflow) return config;

  let loaded = false;
  let reason = "";
  try {
    await probe.loadTensorflow();
    loaded = true;
  } catch (err) {
    reason = err instanceof Error ? err.message : String(err);
  }
  if (config.WORKER_GPU) {
    if (loaded && probe.gpuPackage && probe.gpuDevice) {
      logger.info("GPU backend loaded: this worker advertises a GPU (backend tensorflow)");
      return { ...config, WORKER_GPU: true, PROXIMA_BACKEND: "tensorflow" };
    }
    reason ||= !probe.gpuPackage
      ? "@tensorflow/tfjs-node-gpu is not installed (use the GPU image)"
      : "no NVIDIA device is visible (/dev/nvidiactl; is nvidia.com/gpu in the pod's limits?)";
    logger.warn({ reason }, "WORKER_GPU is set but the GPU backend did not load: advertising no GPU");
  } else if (!loaded) {
    logger.warn({ reason }, "PROXIMA_BACKEND=tensorflow did not load: falling back to wasm");
  }
  const backend = config.PROXIMA_BACKEND === "tensorflow" && !loaded ? "wasm" : config.PROXIMA_BACKEND;
  return { ...config, WORKER_GPU: false, PROXIMA_BACKEND: backend };
}

function resolves(specifier: string): boolean {
  try {
    import.meta.resolve(specifier);
    return true;
  } catch {
    return false;
  }
}
