/**
 * One supervised child process, for a slot of the grading pool (`pool.ts`) and for an env session
 * (`env-session.ts`): forked with the flags isolated-vm needs and an almost empty environment, ready
 * once it says so, one request in flight at a time under a wall-clock deadline, killed past it, and
 * the first failure that ends it kept as the answer to everything after. A failed child is never
 * reused: the pool restarts by forking a fresh one. `serveHost` is the child's end of the channel.
 */
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { ChildNotice } from "./protocol.ts";
import { tallyExit, tallyStart } from "./tally.ts";

/** Whether this module runs from TypeScript sources (through tsx) or from the compiled `dist/`. */
const FROM_SOURCES = import.meta.url.endsWith(".ts");

const EXEC_ARGV = [
  // A forked `.ts` child needs tsx's loader; a compiled `.js` one does not.
  ...(FROM_SOURCES ? ["--import", import.meta.resolve("tsx")] : []),
  // isolated-vm crashes on Node ≥ 20 when the process starts from the built-in startup snapshot.
  "--no-node-snapshot",
];

const EXIT_CATASTROPHE = 70;

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** What the child said before a catastrophic exit (at most 500 characters). */
  fatal: string | undefined;
  /** Whether a request was in flight. */
  during: boolean;
}

export interface SupervisedChildOptions<F> {
  /** The entry point: `child` for the job pool, `env-child` for env sessions. */
  entry: "child" | "env-child";
  /** `advanced` (the V8 serializer) carries typed arrays as their bytes. */
  serialization: "json" | "advanced";
  /** Bounds the child's own V8 heap (`--max-old-space-size`), in MiB; isolates are bounded apart. */
  heapMb?: number;
  /** An idle child does not keep the host alive; a request in flight does, through its deadline. */
  unref?: boolean;
  /** Who is speaking in the errors a misuse gets, e.g. "the env session". */
  name: string;
  /** The failure of a child that exited before anything failed it. */
  exitFailure(exit: ChildExit): F;
  /** The failure of a child the channel cannot reach; absent, the child is killed and its exit tells. */
  unreachable?(error: Error): F;
}

type Pending<Reply> = {
  id: number;
  resolve(reply: Reply): void;
  reject(reason: unknown): void;
  timer: NodeJS.Timeout;
};

export type WithoutId<R> = R extends { id: number } ? Omit<R, "id"> : never;

/**
 * A child that answers each request (`protocol.ts`) with one reply of the same `id`. `F` is what a
 * failure is to the owner: it rejects the request in flight, and every later one.
 */
export class SupervisedChild<Request extends { id: number }, Reply extends { type: string }, F> {
  readonly process: ChildProcess;
  /** Settles once the process has exited (or never started). */
  readonly exited: Promise<ChildExit>;
  /** The first failure; set, the child is killed or gone and every request rejects with it. */
  failure: F | undefined;
  private readonly options: SupervisedChildOptions<F>;
  private pending: Pending<Reply> | undefined;
  private nextId = 1;
  private fatal: string | undefined;
  private closing = false;
  /** Killed by this host (a deadline, a failure, retired): its exit is no crash. */
  private killed = false;

  constructor(options: SupervisedChildOptions<F>) {
    this.options = options;
    const url = new URL(`./${options.entry}.${FROM_SOURCES ? "ts" : "js"}`, import.meta.url);
    this.process = fork(fileURLToPath(url), [], {
      execArgv:
        options.heapMb === undefined ? EXEC_ARGV : [...EXEC_ARGV, `--max-old-space-size=${options.heapMb}`],
      // Nothing of the parent's environment (database URLs, secrets) is handed to the child.
      env: {
        NODE_ENV: process.env.NODE_ENV ?? "production",
        ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}),
      },
      // stdout is dropped and stderr inherited, so that only the sandbox's own defects are printed.
      stdio: ["ignore", "ignore", "inherit", "ipc"],
      serialization: options.serialization,
    });
    if (options.unref) {
      this.process.unref();
      this.process.channel?.unref();
    }
    let onExit: (exit: ChildExit) => void = () => {};
    this.exited = new Promise((resolve) => {
      onExit = resolve;
    });
    const kind = options.entry === "child" ? "job" : "env";
    tallyStart(kind);
    const exit = (code: number | null, signal: NodeJS.Signals | null) => {
      const what = { code, signal, fatal: this.fatal, during: this.pending !== undefined };
      tallyExit(kind, this.closing ? "stopped" : this.killed ? "killed" : "crash");
      // Closed on purpose: the request in flight, if any, has been answered already.
      if (!this.closing) this.fail(options.exitFailure(what));
      onExit(what);
    };
    this.process.on("message", (message: Reply | ChildNotice) => this.onMessage(message));
    this.process.on("error", () => {
      // A process that never started emits no "exit".
      if (this.process.pid === undefined) exit(null, null);
      else this.kill();
    });
    this.process.on("exit", exit);
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  /** Resolves once the child says it is ready; fails it with `late()` after `timeoutMs`. */
  ready(timeoutMs: number, late: () => F): Promise<void> {
    return this.expect(0, timeoutMs, late).then(() => {});
  }

  /** Sends a request and resolves with the reply of its `id`; fails the child with `late()` past `deadlineMs`. */
  request(message: WithoutId<Request>, deadlineMs: number, late: () => F): Promise<Reply> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.closing) return Promise.reject(new Error(`${this.options.name} is closed`));
    if (this.pending)
      return Promise.reject(
        new Error(`${this.options.name} runs one call at a time: await the last one first`),
      );
    const id = this.nextId++;
    const reply = this.expect(id, deadlineMs, late);
    this.process.send({ ...message, id }, (error) => {
      if (!error) return;
      if (this.options.unreachable) this.fail(this.options.unreachable(error));
      else this.kill();
    });
    return reply;
  }

  /** Fails the child with `late()` in `ms` unless it has ended by then; the wait keeps no host alive. */
  failAfter(ms: number, late: () => F): void {
    const timer = setTimeout(() => {
      if (!this.closing) this.fail(late());
    }, ms).unref();
    void this.exited.then(() => clearTimeout(timer));
  }

  /** Fails the child with `reason` (unless it failed before) and kills it; answers the failure that stands. */
  fail(reason: F): F {
    this.failure ??= reason;
    this.take()?.reject(this.failure);
    this.kill();
    return this.failure;
  }

  kill(): void {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    this.killed = true;
    this.process.kill("SIGKILL");
  }

  /**
   * Ends the child on purpose: a request in flight rejects with the failure, or else `reason`. It is
   * asked to go (a disconnect) and killed after `graceMs`. Resolves once it has exited.
   */
  async stop(graceMs: number, reason?: Error): Promise<ChildExit> {
    this.closing = true;
    this.take()?.reject(this.failure ?? reason);
    // Whoever awaits the exit needs the event loop to live until it comes.
    this.process.ref();
    // With no grace, killed at once: the child may be stuck in a crossing that reads no message.
    if (graceMs > 0 && this.process.connected) this.process.disconnect();
    else this.kill();
    const timer = setTimeout(() => this.kill(), graceMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }

  private expect(id: number, deadlineMs: number, late: () => F): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.fail(late()), deadlineMs);
      this.pending = { id, resolve, reject, timer };
    });
  }

  /** The request in flight, if any, which is no longer. */
  private take(): Pending<Reply> | undefined {
    const pending = this.pending;
    this.pending = undefined;
    clearTimeout(pending?.timer);
    return pending;
  }

  private onMessage(message: Reply | ChildNotice): void {
    const notice = message as ChildNotice | { type: undefined; id?: unknown } | undefined;
    if (notice?.type === "fatal") {
      this.fatal = String(notice.message).slice(0, 500);
      return;
    }
    const id = notice?.type === "ready" ? 0 : notice?.id;
    if (this.pending && id === this.pending.id) this.take()?.resolve(message as Reply);
  }
}

/**
 * The child's side: says it is ready, answers each request from the host with `answer`, and exits
 * when the host disconnects. Nothing of the host is reachable from here but the IPC channel.
 */
export function serveHost<Request, Reply>(
  answer: (request: Request) => Reply | undefined | Promise<Reply | undefined>,
): void {
  process.on("message", async (request: Request) => {
    const reply = await answer(request);
    if (reply !== undefined) send(reply);
  });
  process.on("disconnect", () => process.exit(0));
  send({ type: "ready" });
}

function send(message: unknown): void {
  // The host may be gone already (closed or crashed); there is nobody left to tell.
  if (process.connected) process.send?.(message, undefined, undefined, () => {});
}

/** What a child does on an isolated-vm catastrophic error (an isolate that can no longer be controlled). */
export function onCatastrophe(message: string): void {
  send({ type: "fatal", message });
  // Give the IPC message a moment to leave, then go: the isolate's memory is unrecoverable.
  setTimeout(() => process.exit(EXIT_CATASTROPHE), 50).unref();
}
