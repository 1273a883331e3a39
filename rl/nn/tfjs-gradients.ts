/**
 * Registers tfjs-core's kernel gradients (needed by tf.variableGrads). The `@tensorflow/tfjs` union
 * package does this for you; with `@tensorflow/tfjs-core` alone the registrations live only in its
 * ES module build (dist/register_all_gradients.js), which uses extensionless and directory imports
 * that Node's ESM resolver rejects. A synchronous resolve hook (module.registerHooks, Node ≥ 22.15)
 * completes those specifiers for files inside tfjs-core's dist only. The registrations land in
 * tfjs-core's process-global registry (`globalThis._tfGlobals`), shared with the CommonJS build
 * that `import "@tensorflow/tfjs-core"` loads.
 */
import { existsSync, statSync } from "node:fs";
import { createRequire, registerHooks } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

let done: Promise<void> | null = null;

export function registerTfjsGradients(): Promise<void> {
  done ??= (async () => {
    const require = createRequire(import.meta.url);
    const dist = dirname(require.resolve("@tensorflow/tfjs-core"));
    const distUrl = pathToFileURL(`${dist}/`).href;
    const hooks = registerHooks({
      resolve(specifier, context, nextResolve) {
        if (context.parentURL?.startsWith(distUrl) && specifier.startsWith(".")) {
          const base = join(dirname(fileURLToPath(context.parentURL)), specifier);
          if (existsSync(`${base}.js`))
            return { url: pathToFileURL(`${base}.js`).href, format: "module", shortCircuit: true };
          if (existsSync(base) && statSync(base).isDirectory()) {
            return { url: pathToFileURL(join(base, "index.js")).href, format: "module", shortCircuit: true };
          }
        }
        return nextResolve(specifier, context);
      },
    });
    try {
      await import(pathToFileURL(join(dist, "register_all_gradients.js")).href);
    } finally {
      hooks.deregister();
    }
  })();
  return done;
}
