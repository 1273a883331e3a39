import WebSocket from "ws";
import type { RemoteClient } from "./client.ts";

/**
 * Live updates for the remote CLI over /api/v1/ws (Authorization header: the CLI is not a browser).
 * Reconnects after a drop with exponential backoff and full jitter, up to 10 s, and tells the caller
 * each time it has subscribed again so that it can fetch what it missed. Resolves when `done()` is
 * called; Ctrl-C interrupts it.
 */
export type Frame = { type: string; [key: string]: unknown };
export type Topic = { runId: string } | { sweepId: string };

export interface LiveOptions {
  topic: Topic;
  onFrame(frame: Frame, done: () => void): void | Promise<void>;
  /**
   * Called every `everyMs` between frames: live frames are broadcasts, and an API node that has
   * just (re)started may miss some before the cluster knows it — the caller checks the stored state.
   */
  tick?: { everyMs: number; run(done: () => void): Promise<void> };
  /** After every subscription; `reconnected` is false the first time. */
  onSubscribed?(reconnected: boolean): Promise<void> | void;
  onDisconnect?(): void;
}

export function followLive(client: RemoteClient, opts: LiveOptions): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let finished = false;
    let subscribedOnce = false;
    let attempt = 0;
    let socket: WebSocket | undefined;
    let timer: NodeJS.Timeout | undefined;
    let ticker: NodeJS.Timeout | undefined;
    // Frames (of every socket in turn) and ticks are handled one at a time, in order: the history
    // fetched after a resubscription must be printed before the live frames that follow it.
    let queue = Promise.resolve();
    const enqueue = (work: () => Promise<void>) => {
      queue = queue.then(work).catch((err: unknown) => fail(err));
    };
    const key = "runId" in opts.topic ? "runId" : "sweepId";
    const id = "runId" in opts.topic ? opts.topic.runId : opts.topic.sweepId;

    const done = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      clearInterval(ticker);
      socket?.close(1000);
      process.off("SIGINT", interrupt);
      resolve();
    };
    const fail = (err: unknown) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      clearInterval(ticker);
      socket?.close();
      process.off("SIGINT", interrupt);
      reject(err);
    };
    const interrupt = () => {
      done();
      process.exitCode = 130;
    };
    process.on("SIGINT", interrupt);

    const retry = () => {
      if (finished) return;
      const delay = Math.random() * Math.min(10_000, 500 * 2 ** attempt);
      attempt += 1;
      timer = setTimeout(connect, delay);
    };

    const connect = async () => {
      if (finished) return;
      let token: string;
      try {
        token = await client.token();
      } catch (err) {
        // An unreachable server is worth waiting for; a refused session is not.
        if ((err as { status?: number }).status === 401) {
          fail(err);
          return;
        }
        retry();
        return;
      }
      const ws = new WebSocket(client.wsUrl(), { headers: { authorization: `Bearer ${token}` } });
      socket = ws;
      ws.on("open", () => {
        attempt = 0;
        ws.send(JSON.stringify({ type: "subscribe", ...opts.topic }));
      });
      ws.on("message", (data) => enqueue(() => handle(data)));
      const handle = async (data: WebSocket.RawData) => {
        if (finished) return;
        let frame: Frame;
        try {
          frame = JSON.parse(String(data)) as Frame;
        } catch {
          return;
        }
        if (frame[key] !== undefined && frame[key] !== id) return;
        if (frame.type === "subscribed") {
          const reconnected = subscribedOnce;
          subscribedOnce = true;
          try {
            await opts.onSubscribed?.(reconnected);
          } catch (err) {
            fail(err);
            return;
          }
        }
        if (frame.type === "error") {
          fail(new Error(String(frame["message"])));
          return;
        }
        await opts.onFrame(frame, done);
      };
      ws.on("unexpected-response", (_req, res) => {
        ws.removeAllListeners("close");
        if (res.statusCode !== 401) {
          retry();
          return;
        }
        // The token was refused: renew it once; a refused renewal means the session is over.
        client.refresh().then(retry, (err: unknown) => {
          if ((err as { status?: number }).status === 401) fail(err);
          else retry();
        });
      });
      ws.on("error", () => {});
      ws.on("close", () => {
        if (finished || socket !== ws) return;
        opts.onDisconnect?.();
        retry();
      });
    };
    if (opts.tick) {
      const tick = opts.tick;
      ticker = setInterval(
        () => enqueue(() => (finished ? Promise.resolve() : tick.run(done))),
        tick.everyMs,
      );
    }
    void connect();
  });
}

/** `[#####-----]`: a text progress bar of `width` cells. */
export function bar(fraction: number, width = 24): string {
  const f = Math.max(0, Math.min(1, fraction));
  const full = Math.round(f * width);
  return `[${"#".repeat(full)}${"-".repeat(width - full)}]`;
}

export function compact(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "-";
  const abs = Math.abs(value);
  if (abs >= 1e6) return `${(value / 1e6).toFixed(1)}M`;
  if (abs >= 1e4) return `${(value / 1e3).toFixed(1)}k`;
  if (abs > 0 && abs < 1e-3) return value.toExponential(1);
  return String(Number(value.toPrecision(4)));
}
