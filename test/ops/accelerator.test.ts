import test from "ava";
import { type AcceleratorConfig, type AcceleratorProbe, resolveAccelerator } from "../../lib/accelerator.ts";

/**
 * The decision a worker makes at start about what it advertises. The machine's side (is the package
 * there, is a device visible, does libtensorflow load) is given as a probe: this machine has no GPU,
 * and the real probe's "cannot load" path is covered by a real process in health.test.ts.
 */
const quiet = { info() {}, warn() {} };

function probe(
  gpuPackage: boolean,
  gpuDevice: boolean,
  loads: boolean,
): AcceleratorProbe & { calls: number } {
  return {
    gpuPackage,
    gpuDevice,
    calls: 0,
    async loadTensorflow() {
      this.calls += 1;
      if (!loads) throw new Error("libtensorflow.so.2: cannot open shared object file");
    },
  };
}

const GPU_WISH: AcceleratorConfig = { WORKER_GPU: true, PROXIMA_BACKEND: "wasm" };

test("a worker advertises a GPU and the tensorflow backend when the GPU package loads and a device is visible", async (t) => {
  const config = await resolveAccelerator(GPU_WISH, ["workers"], quiet, probe(true, true, true));
  t.deepEqual(config, { WORKER_GPU: true, PROXIMA_BACKEND: "tensorflow" });
});

test("a worker advertises no GPU when no NVIDIA device is visible, even though the backend loads", async (t) => {
  const config = await resolveAccelerator(GPU_WISH, ["workers"], quiet, probe(true, false, true));
  t.is(config.WORKER_GPU, false);
});

test("a worker advertises no GPU when only the CPU build of tfjs-node is installed", async (t) => {
  const config = await resolveAccelerator(
    { WORKER_GPU: true, PROXIMA_BACKEND: "tensorflow" },
    ["workers"],
    quiet,
    probe(false, true, true),
  );
  t.deepEqual(config, { WORKER_GPU: false, PROXIMA_BACKEND: "tensorflow" });
});

test("a tensorflow backend that cannot load falls back to wasm", async (t) => {
  const config = await resolveAccelerator(
    { WORKER_GPU: false, PROXIMA_BACKEND: "tensorflow" },
    ["workers"],
    quiet,
    probe(false, false, false),
  );
  t.deepEqual(config, { WORKER_GPU: false, PROXIMA_BACKEND: "wasm" });
});

test("processes without the workers service, or that ask for no GPU, load nothing", async (t) => {
  const p = probe(true, true, true);
  t.deepEqual(await resolveAccelerator(GPU_WISH, ["runs", "users"], quiet, p), GPU_WISH);
  const plain: AcceleratorConfig = { WORKER_GPU: false, PROXIMA_BACKEND: "wasm" };
  t.deepEqual(await resolveAccelerator(plain, ["workers"], quiet, p), plain);
  t.is(p.calls, 0);
});
