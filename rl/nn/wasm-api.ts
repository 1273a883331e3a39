/**
 * The few WebAssembly JS-API members the kernel uses. The project's TypeScript libs (es2024 + node
 * types) do not declare the `WebAssembly` namespace, so it is typed here rather than pulling in the
 * DOM lib.
 */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
}

export interface WasmInstance {
  readonly exports: Record<string, unknown>;
}

interface WasmApi {
  Memory: new (descriptor: { initial: number; maximum?: number }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => WasmInstance;
}

export const Wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
