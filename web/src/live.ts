import type { Api } from "./api.ts";

/**
 * One WebSocket per tab to /api/v1/ws, shared by every page. It connects with a single-use ticket
 * (POST /api/v1/ws/tickets; tokens never go in URLs), re-subscribes everything after a reconnect and
 * tells each subscriber that it reconnected, so that the page fetches the history it missed while
 * disconnected. Reconnects back off exponentially with full jitter (AWS Architecture Blog,
 * "Exponential Backoff And Jitter", 2015), from 0.5 s up to 15 s, and start over at once when the
 * browser says it is back online.
 */
export type LiveMessage = { type: string; runId?: string; sweepId?: string; [key: string]: unknown };
export type Topic = { runId: string } | { sweepId: string };
export type ConnectionState = "connecting" | "open" | "closed";

interface Subscription {
  topic: Topic;
  onMessage: (message: LiveMessage) => void;
  /** Called after every (re)subscription: `reconnected` is false the first time. */
  onSubscribed?: (reconnected: boolean) => void;
  subscribedOnce: boolean;
}

const BASE_DELAY_MS = 500;
const MAX_DELAY_MS = 15_000;

function topicKey(topic: Topic): string {
  return "runId" in topic ? `run:${topic.runId}` : `sweep:${topic.sweepId}`;
}

function messageKey(message: LiveMessage): string | null {
  if (typeof message.runId === "string") return `run:${message.runId}`;
  if (typeof message.sweepId === "string") return `sweep:${message.sweepId}`;
  return null;
}

export class Live {
  private ws: WebSocket | null = null;
  private readonly subs = new Map<string, Set<Subscription>>();
  private readonly listeners = new Set<(message: LiveMessage) => void>();
  private readonly stateListeners = new Set<(state: ConnectionState) => void>();
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = true;
  state: ConnectionState = "closed";

  constructor(private readonly api: Api) {
    window.addEventListener("online", () => {
      if (!this.stopped && this.state !== "open") this.reconnectNow();
    });
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.connect();
  }

  /** On logout: closes the socket and forgets every subscription. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.ws?.close(1000, "logout");
    this.ws = null;
    this.subs.clear();
    this.setState("closed");
  }

  subscribe(
    topic: Topic,
    onMessage: (message: LiveMessage) => void,
    onSubscribed?: (reconnected: boolean) => void,
  ): () => void {
    const key = topicKey(topic);
    const sub: Subscription = { topic, onMessage, onSubscribed, subscribedOnce: false };
    let set = this.subs.get(key);
    const first = !set;
    if (!set) {
      set = new Set();
      this.subs.set(key, set);
    }
    set.add(sub);
    if (first) this.send({ type: "subscribe", ...topic });
    else if (this.state === "open") this.markSubscribed(sub);
    return () => {
      set.delete(sub);
      if (set.size === 0) {
        this.subs.delete(key);
        this.send({ type: "unsubscribe", ...topic });
      }
    };
  }

  /** Messages that belong to no subscription (submission results, say). */
  onAny(listener: (message: LiveMessage) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onState(listener: (state: ConnectionState) => void): () => void {
    this.stateListeners.add(listener);
    listener(this.state);
    return () => this.stateListeners.delete(listener);
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    this.setState("connecting");
    let ticket: string;
    try {
      ticket = (await this.api.post<{ ticket: string }>("/api/v1/ws/tickets")).ticket;
    } catch {
      this.scheduleReconnect();
      return;
    }
    if (this.stopped) return;
    const url = new URL(`/api/v1/ws?ticket=${encodeURIComponent(ticket)}`, location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.addEventListener("open", () => {
      this.attempt = 0;
      this.setState("open");
      for (const set of this.subs.values()) {
        const [any] = set;
        if (any) ws.send(JSON.stringify({ type: "subscribe", ...any.topic }));
      }
    });
    ws.addEventListener("message", (event) => {
      let message: LiveMessage;
      try {
        message = JSON.parse(String(event.data)) as LiveMessage;
      } catch {
        return;
      }
      this.dispatch(message);
    });
    ws.addEventListener("close", (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped) return;
      // 4001: the access token behind the socket expired; the next ticket request refreshes it.
      if (event.code === 4001) this.attempt = 0;
      if (event.code === 4003) {
        this.stop();
        return;
      }
      this.scheduleReconnect();
    });
  }

  private dispatch(message: LiveMessage): void {
    const key = messageKey(message);
    const set = key ? this.subs.get(key) : undefined;
    if (set && message.type === "subscribed") {
      for (const sub of set) this.markSubscribed(sub);
    }
    if (set) for (const sub of set) sub.onMessage(message);
    else for (const listener of this.listeners) listener(message);
  }

  private markSubscribed(sub: Subscription): void {
    const reconnected = sub.subscribedOnce;
    sub.subscribedOnce = true;
    sub.onSubscribed?.(reconnected);
  }

  private scheduleReconnect(): void {
    this.setState("connecting");
    const ceiling = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** this.attempt);
    this.attempt += 1;
    const delay = Math.random() * ceiling;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.connect();
    }, delay);
  }

  private reconnectNow(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.attempt = 0;
    if (!this.ws) void this.connect();
  }

  private send(message: object): void {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  private setState(state: ConnectionState): void {
    if (this.state === state) return;
    this.state = state;
    for (const listener of this.stateListeners) listener(state);
  }
}
