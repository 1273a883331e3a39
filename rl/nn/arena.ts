/**
 * All float buffers of the fused kernel live in one WebAssembly memory, so that the same
 * Float32Array views can be handed to the JavaScript GEMMs or, by byte offset, to the WebAssembly
 * SIMD GEMMs without copies. The memory never grows after construction (growing would detach every
 * view), so its size is measured first by running the same allocations through a counter.
 */
import { Wasm, type WasmMemory } from "./wasm-api.ts";

export interface Allocator {
  alloc(n: number): Float32Array;
}

/**
 * More arena memory was asked for than this thread may reserve (`limitArenaBytes`): thrown before the
 * memory is taken, so that a network too large for its learner fails its run instead of its process.
 */
export class ArenaLimitError extends RangeError {
  override name = "ArenaLimitError";
  constructor(
    /** Bytes the arenas would hold with this request (a lower bound when thrown by the sizing pass). */
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(`the network's buffers need at least ${mib(bytes)} MiB; this learner may hold ${mib(limit)} MiB`);
  }
}

const mib = (bytes: number) => Math.ceil(bytes / 2 ** 20);

/**
 * What the arenas of this thread may reserve in all, and have reserved (never given back: a learner
 * thread builds its network once and its evaluation once). Null: no limit (the default).
 */
let ceiling: { limit: number; reserved: number } | null = null;

/**
 * Caps the bytes all Arenas of this JavaScript thread may reserve, from now on (null: no cap). Typed
 * arrays and WebAssembly memories live outside the V8 heap, so a Worker's `resourceLimits` do not
 * bound them: this does, for the buffers that grow with the network (θ, gradients, Adam, activations).
 */
export function limitArenaBytes(limit: number | null): void {
  ceiling = limit === null ? null : { limit, reserved: 0 };
}

function checkCeiling(bytes: number): void {
  if (ceiling && ceiling.reserved + bytes > ceiling.limit)
    throw new ArenaLimitError(ceiling.reserved + bytes, ceiling.limit);
}

/** Counts the floats a construction would allocate (each allocation aligned to 16 bytes). */
export class CountingAllocator implements Allocator {
  floats = 0;
  alloc(n: number): Float32Array {
    this.floats += align4(n);
    // Checked as it counts, so that the sizing pass itself stops before it holds more than the cap.
    checkCeiling(this.floats * 4);
    return new Float32Array(n);
  }
}

const memories = new WeakMap<ArrayBufferLike, WasmMemory>();

/** The WebAssembly memory behind an Arena's buffer (for the WebAssembly GEMM to import), if any. */
export function memoryOf(buffer: ArrayBufferLike): WasmMemory | undefined {
  return memories.get(buffer);
}

/**
 * Memories of released Arenas, by page count, for the next Arena of that size in this thread. A
 * WebAssembly memory cannot be freed: it goes when the garbage collector finds it, and V8 counts
 * neither its pages nor its reservation (8 GiB of address space each, for the guard regions) as heap
 * or external memory, so a process whose heap stays flat collects them rarely. A worker builds a
 * runner (an Arena) for every run it serves: without reuse, hundreds of dead memories (24–192 KiB
 * resident each) piled up between two full collections (bench:soak, a worker's RSS creeping
 * +0.3–0.5 MiB/min with its heap flat; bench/README.md). With it, a runner's memory serves the next.
 */
const released = new Map<number, WasmMemory[]>();
/** Memories kept per size: more runners than this closed at once are left to the collector. */
const RELEASED_PER_SIZE = 16;
let created = 0;

/** WebAssembly memories this thread's Arenas have created (reused ones are not counted again). */
export function arenaMemoriesCreated(): number {
  return created;
}

function takeMemory(pages: number): WasmMemory {
  const reused = released.get(pages)?.pop();
  if (reused) {
    // As a new memory is: the sizing pass and the models' initialisers count on zeros.
    new Uint8Array(reused.buffer).fill(0);
    return reused;
  }
  created++;
  const memory = new Wasm.Memory({ initial: pages, maximum: pages });
  memories.set(memory.buffer, memory);
  return memory;
}

export class Arena implements Allocator {
  readonly memory: WasmMemory;
  private nextFloat = 0;
  private readonly capacity: number;
  private readonly pages: number;
  private released = false;

  constructor(floats: number) {
    const pages = Math.max(1, Math.ceil((floats * 4) / 65536));
    checkCeiling(pages * 65536);
    if (ceiling) ceiling.reserved += pages * 65536;
    this.pages = pages;
    this.memory = takeMemory(pages);
    this.capacity = (pages * 65536) / 4;
  }

  /**
   * Gives the memory to the next Arena of its size in this thread. Every view taken from this Arena
   * must be out of use: the next owner zeroes and overwrites them. Idempotent.
   */
  release(): void {
    if (this.released) return;
    this.released = true;
    if (ceiling) ceiling.reserved = Math.max(0, ceiling.reserved - this.pages * 65536);
    const free = released.get(this.pages) ?? [];
    if (free.length < RELEASED_PER_SIZE) free.push(this.memory);
    released.set(this.pages, free);
  }

  alloc(n: number): Float32Array {
    if (this.released) throw new RangeError("Arena released: its memory belongs to another Arena now");
    const size = align4(n);
    if (this.nextFloat + size > this.capacity)
      throw new RangeError("Arena exhausted: sizing pass and allocation differ");
    const view = new Float32Array(this.memory.buffer, this.nextFloat * 4, n);
    this.nextFloat += size;
    return view;
  }

  /** Builds `make` twice: once to count its floats, once for real inside an arena of that size. */
  static build<T>(make: (alloc: Allocator) => T): { arena: Arena; value: T } {
    const counter = new CountingAllocator();
    make(counter);
    const arena = new Arena(counter.floats);
    return { arena, value: make(arena) };
  }
}

function align4(n: number): number {
  return (n + 3) & ~3;
}
