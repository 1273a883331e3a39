/**
 * The simulated learners of `npm run bench:soak` (bench/soak.ts), and what they measured. Each learner
 * does what a person at the dashboard does: logs in, refreshes its tokens before they expire, keeps a
 * WebSocket open on its runs (a new ticket and socket with every new access token: the hub closes a
 * socket when the token that asked for its ticket expires), reads run pages, submits an exercise now
 * and then (right or wrong), and launches tiny runs within its role's quota. They share one event
 * loop, so their pace is set by think times and by global bounds (requests/s, runs, submissions), not
 * by how fast the server answers.
 */
import WebSocket from "ws";
import { type PublicRun, RunStatusSchema } from "../contracts/runs.ts";
import type { TokenPair } from "../contracts/users.ts";

export interface Account {
  email: string;
  password: string;
}

/** A correct solution of the exercise the learners submit (bench/sandbox.ts grades the same function). */
export const EXERCISE_ID = "discounted-returns";
const RIGHT = `function discountedReturns(rewards, gamma) {
  const out = new Array(rewards.length);
  let g = 0;
  for (let t = rewards.length - 1; t >= 0; t--) { g = rewards[t] + gamma * g; out[t] = g; }
  return out;
}`;
// Forgets the discount: graded, scored below full marks.
const WRONG = `function discountedReturns(rewards, gamma) {
  const out = new Array(rewards.length);
  let g = 0;
  for (let t = rewards.length - 1; t >= 0; t--) { g = rewards[t] + g; out[t] = g; }
  return out;
}`;

/** 4 envs × 32 steps × 4 iterations of CartPole (test/runs/helpers.ts's tiny run): seconds of work. */
function tinyRun(seed: number, runners: number) {
  return {
    env: "CartPole-v1",
    seed,
    totalSteps: 512,
    hyperparameters: { numEnvs: 4, numSteps: 32, numMinibatches: 2, updateEpochs: 2 },
    resources: { runners },
  };
}

export interface LoadOptions {
  apiUrl: string;
  accounts: Account[];
  /** Learners start evenly over this long (their logins would otherwise all land at once). */
  rampMs: number;
  /** When the learners stop (a Date.now() value). */
  until: number;
  /** Mean time between two actions of one learner (exponential). */
  thinkMs: number;
  /** Requests per second of all learners together at most; beyond, requests wait their turn. */
  maxRps: number;
  /** Runs all learners together may launch, at most, and at most this many a minute. */
  maxRuns: number;
  runsPerMin: number;
  /** Submissions a minute, all learners together. */
  submissionsPerMin: number;
  /** Active runs (queued or running) one learner keeps at most: the role's concurrent-run quota. */
  runQuota: number;
  /** Refresh this fraction of the access token's lifetime after getting it (0.8: with a fifth left). */
  refreshAt?: number;
}

/** Latencies (ms) and answers of one kind of request. */
export interface KindStats {
  latencies: number[];
  /** When each latency's request was sent, ms since the load started (same order as `latencies`). */
  sentAt: number[];
  /** By HTTP status, "neterr" for no answer, "ws-<code>" for an unexpected WebSocket close. */
  statuses: Record<string, number>;
}

export interface LoadStats {
  kinds: Record<string, KindStats>;
  /** WebSocket frames received by type. */
  wsFrames: Record<string, number>;
  /** Requests that waited for the global request-rate bound, and how long in all. */
  throttled: { requests: number; waitMs: number };
  learnersStarted: number;
  learnersLoggedIn: number;
  runsLaunched: number;
  submissions: number;
  /** Ids of the runs the learners launched (the fair-share analysis reads them back as an admin). */
  runIds: string[];
  /** Requests per minute since the start, for a look at the pace. */
  perMinute: number[];
  /** Error answers (5xx, no answer), the first few with what they said. */
  errorSamples: string[];
}

/** Spaces requests so that there are at most `perSecond` a second, in order of asking. */
class Pacer {
  private next = 0;
  constructor(private readonly perSecond: number) {}
  /** How long to wait before going (0: now). */
  take(): number {
    const now = Date.now();
    this.next = Math.max(this.next, now) + 1000 / this.perSecond;
    return Math.max(0, this.next - 1000 / this.perSecond - now);
  }
}

/** A budget of `perMinute` a minute (a token bucket of one minute's worth) and `total` in all. */
class Budget {
  private tokens: number;
  private at = Date.now();
  used = 0;
  constructor(
    private readonly perMinute: number,
    private readonly total: number,
  ) {
    this.tokens = Math.min(perMinute, 1);
  }
  tryTake(): boolean {
    const now = Date.now();
    this.tokens = Math.min(this.perMinute, this.tokens + ((now - this.at) / 60_000) * this.perMinute);
    this.at = now;
    if (this.tokens < 1 || this.used >= this.total) return false;
    this.tokens -= 1;
    this.used += 1;
    return true;
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const ACTIVE = new Set(["queued", "running"]);

export class LearnerLoad {
  readonly stats: LoadStats = {
    kinds: {},
    wsFrames: {},
    throttled: { requests: 0, waitMs: 0 },
    learnersStarted: 0,
    learnersLoggedIn: 0,
    runsLaunched: 0,
    submissions: 0,
    runIds: [],
    perMinute: [],
    errorSamples: [],
  };
  private readonly pacer: Pacer;
  private readonly runs: Budget;
  private readonly subs: Budget;
  private readonly started = Date.now();
  private readonly sockets = new Set<WebSocket>();
  private stopped = false;
  private readonly wakers = new Set<() => void>();

  constructor(readonly opts: LoadOptions) {
    this.pacer = new Pacer(opts.maxRps);
    this.runs = new Budget(opts.runsPerMin, opts.maxRuns);
    this.subs = new Budget(opts.submissionsPerMin, Number.POSITIVE_INFINITY);
  }

  /** Runs every learner until `until`, then closes their sockets. */
  async run(): Promise<LoadStats> {
    const n = this.opts.accounts.length;
    const learners = this.opts.accounts.map((account, i) =>
      this.sleep((this.opts.rampMs * i) / Math.max(1, n)).then(() => this.learner(account, i)),
    );
    const stopTimer = setTimeout(() => this.stop(), Math.max(0, this.opts.until - Date.now()));
    await Promise.all(learners);
    clearTimeout(stopTimer);
    for (const ws of this.sockets) ws.close(1000);
    return this.stats;
  }

  stop(): void {
    this.stopped = true;
    for (const wake of this.wakers) wake();
  }

  /** Sleeps `ms`, or less when the load stops. */
  private sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.wakers.add(wake);
    });
  }

  private kind(name: string): KindStats {
    let k = this.stats.kinds[name];
    if (!k) {
      k = { latencies: [], sentAt: [], statuses: {} };
      this.stats.kinds[name] = k;
    }
    return k;
  }

  private count(kind: string, status: string, ms?: number, detail?: string): void {
    const k = this.kind(kind);
    k.statuses[status] = (k.statuses[status] ?? 0) + 1;
    if (ms !== undefined) {
      k.latencies.push(ms);
      k.sentAt.push(Date.now() - ms - this.started);
    }
    const minute = Math.floor((Date.now() - this.started) / 60_000);
    this.stats.perMinute[minute] = (this.stats.perMinute[minute] ?? 0) + 1;
    const bad = status === "neterr" || status.startsWith("5") || status.startsWith("ws-");
    if (bad && this.stats.errorSamples.length < 20) {
      this.stats.errorSamples.push(`${kind} ${status}${detail ? `: ${detail.slice(0, 300)}` : ""}`);
    }
  }

  /** One request of `kind`, paced by the global bound; latency from sending to the whole body read. */
  private async request<T>(
    kind: string,
    method: string,
    path: string,
    opts: { token?: string; body?: unknown; address?: string } = {},
  ): Promise<{ status: number; body: T; retryAfterS?: number } | undefined> {
    const wait = this.pacer.take();
    if (wait > 0) {
      this.stats.throttled.requests++;
      this.stats.throttled.waitMs += wait;
      await sleep(wait);
    }
    const headers: Record<string, string> = {};
    if (opts.token) headers["authorization"] = `Bearer ${opts.token}`;
    if (opts.address) headers["x-forwarded-for"] = opts.address;
    if (opts.body !== undefined) headers["content-type"] = "application/json";
    const t0 = performance.now();
    try {
      const res = await fetch(`${this.opts.apiUrl}/api/v1${path}`, {
        method,
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      });
      const text = await res.text();
      const ms = performance.now() - t0;
      this.count(kind, String(res.status), ms, res.status >= 500 ? text : undefined);
      const body =
        text.length > 0 && (res.headers.get("content-type") ?? "").includes("json") ? JSON.parse(text) : text;
      const retryAfter = Number(res.headers.get("retry-after"));
      return { status: res.status, body: body as T, ...(retryAfter > 0 ? { retryAfterS: retryAfter } : {}) };
    } catch (err) {
      this.count(kind, "neterr", undefined, (err as Error).message);
      return undefined;
    }
  }

  private async learner(account: Account, index: number): Promise<void> {
    if (this.stopped) return;
    this.stats.learnersStarted++;
    // Its own address (in 10/8), sent as X-Forwarded-For to an API that trusts it: the per-address
    // limits then see a thousand learners, as in a real class, not one loopback client.
    const address = `10.${(index >> 16) & 255}.${(index >> 8) & 255}.${index & 255}`;
    const login = await this.tokens({ account, address }, "auth.login", account);
    if (!login) return;
    this.stats.learnersLoggedIn++;
    const me: LearnerState = {
      account,
      address,
      tokens: login.body,
      gotAt: Date.now(),
      runs: new Map(),
      socket: undefined,
    };
    await this.openSocket(me);
    const refresher = this.refreshLoop(me);
    let seed = index * 1000;
    while (!this.stopped) {
      await this.sleep(-Math.log(1 - Math.random()) * this.opts.thinkMs);
      if (this.stopped) break;
      await this.act(me, seed++);
    }
    await refresher;
    me.socket?.close(1000);
  }

  /**
   * A token request (login or refresh), again after a refusal that says "later" (429, 5xx, no
   * answer) as the dashboard would, after Retry-After or a doubling back-off up to 30 s; undefined on
   * a refusal that says "no" (a wrong password, a spent refresh token: 401, 403).
   */
  private async tokens(
    me: { account: Account; address: string },
    kind: "auth.login" | "auth.refresh",
    body: unknown,
  ): Promise<{ status: number; body: TokenPair } | undefined> {
    const path = kind === "auth.login" ? "/auth/login" : "/auth/refresh";
    for (let attempt = 0; !this.stopped; attempt++) {
      const res = await this.request<TokenPair>(kind, "POST", path, { body, address: me.address });
      if (res?.status === 200) return res;
      if (res?.status === 401 || res?.status === 403) return undefined;
      const backoff = Math.min(30_000, 1000 * 2 ** attempt) * (0.5 + Math.random());
      await this.sleep(res?.retryAfterS ? res.retryAfterS * 1000 : backoff);
    }
    return undefined;
  }

  private async act(me: LearnerState, seed: number): Promise<void> {
    const token = me.tokens.accessToken;
    const active = [...me.runs.values()].filter((r) => ACTIVE.has(r.status)).length;
    const r = Math.random();
    if (r < 0.05 && active < this.opts.runQuota && this.runs.tryTake()) {
      const res = await this.request<PublicRun>("runs.create", "POST", "/runs", {
        token,
        address: me.address,
        body: tinyRun(seed, Math.random() < 0.2 ? 2 : 1),
      });
      if (res?.status === 201) {
        this.stats.runsLaunched++;
        this.stats.runIds.push(res.body.id);
        me.runs.set(res.body.id, { status: res.body.status });
        this.send(me.socket, { type: "subscribe", runId: res.body.id });
      }
      return;
    }
    if (r < 0.1 && this.subs.tryTake()) {
      const res = await this.request<{ id: string }>(
        "submissions.create",
        "POST",
        `/exercises/${EXERCISE_ID}/submissions`,
        { token, address: me.address, body: { code: Math.random() < 0.5 ? RIGHT : WRONG } },
      );
      if (res?.status === 202) this.stats.submissions++;
      return;
    }
    const ids = [...me.runs.keys()];
    const pick = ids[Math.floor(Math.random() * ids.length)];
    if (r < 0.45 || pick === undefined) {
      // The runs page: the learner's list, which also tells it how its runs stand.
      const res = await this.request<{ items: PublicRun[] }>("runs.list", "GET", "/runs?limit=20", {
        token,
        address: me.address,
      });
      if (res?.status === 200) for (const run of res.body.items) me.runs.set(run.id, { status: run.status });
    } else if (r < 0.7) {
      const res = await this.request<PublicRun>("runs.get", "GET", `/runs/${pick}`, {
        token,
        address: me.address,
      });
      if (res?.status === 200) me.runs.set(pick, { status: res.body.status });
    } else if (r < 0.95) {
      await this.request("runs.metrics", "GET", `/runs/${pick}/metrics?maxPoints=200`, {
        token,
        address: me.address,
      });
    } else {
      await this.request("exercises.list", "GET", "/exercises", { token, address: me.address });
    }
  }

  /** Refreshes the pair before the access token expires, then moves the dashboard to a new socket. */
  private async refreshLoop(me: LearnerState): Promise<void> {
    const at = this.opts.refreshAt ?? 0.8;
    while (!this.stopped) {
      const due = me.gotAt + me.tokens.expiresIn * 1000 * at * (0.9 + 0.1 * Math.random());
      await this.sleep(Math.max(0, due - Date.now()));
      if (this.stopped) return;
      // A refresh token that is spent or unknown: log in again, as the dashboard sends its user to.
      const pair =
        (await this.tokens(me, "auth.refresh", { refreshToken: me.tokens.refreshToken })) ??
        (await this.tokens(me, "auth.login", me.account));
      if (!pair) return;
      me.tokens = pair.body;
      me.gotAt = Date.now();
      const old = me.socket;
      await this.openSocket(me);
      old?.close(1000);
    }
  }

  private send(ws: WebSocket | undefined, message: unknown): void {
    if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
  }

  /** A ticket, then the socket, subscribed to the learner's latest runs (the hub allows 32 a socket). */
  private async openSocket(me: LearnerState): Promise<void> {
    const ticket = await this.request<{ ticket: string }>("ws.ticket", "POST", "/ws/tickets", {
      token: me.tokens.accessToken,
      address: me.address,
    });
    if (ticket?.status !== 201) return;
    const t0 = performance.now();
    const url = `${this.opts.apiUrl.replace(/^http/, "ws")}/api/v1/ws?ticket=${encodeURIComponent(ticket.body.ticket)}`;
    const ws = new WebSocket(url, { headers: { "x-forwarded-for": me.address } });
    this.sockets.add(ws);
    let opened = false;
    let closedByUs = false;
    const origClose = ws.close.bind(ws);
    ws.close = (code?: number, reason?: string | Buffer) => {
      closedByUs = true;
      origClose(code, reason);
    };
    await new Promise<void>((resolve) => {
      ws.once("open", () => {
        opened = true;
        this.count("ws.open", "101", performance.now() - t0);
        for (const id of [...me.runs.keys()].slice(-8)) this.send(ws, { type: "subscribe", runId: id });
        resolve();
      });
      ws.once("unexpected-response", (_req, res) => {
        this.count("ws.open", String(res.statusCode ?? "neterr"), performance.now() - t0);
        resolve();
      });
      ws.once("error", (err) => {
        if (!opened) this.count("ws.open", "neterr", undefined, err.message);
        resolve();
      });
    });
    ws.on("message", (data) => this.onFrame(me, String(data)));
    ws.once("close", (code) => {
      this.sockets.delete(ws);
      // 4001: the access token behind the ticket expired before the refresh moved the dashboard on.
      if (opened && !closedByUs && !this.stopped) this.count("ws.session", `ws-${code}`);
    });
    if (opened) me.socket = ws;
  }

  private onFrame(me: LearnerState, text: string): void {
    let frame: { type?: string; runId?: string; status?: string };
    try {
      frame = JSON.parse(text) as typeof frame;
    } catch {
      this.stats.wsFrames["unparsable"] = (this.stats.wsFrames["unparsable"] ?? 0) + 1;
      return;
    }
    const type = String(frame.type);
    this.stats.wsFrames[type] = (this.stats.wsFrames[type] ?? 0) + 1;
    if (type === "error" && this.stats.errorSamples.length < 20)
      this.stats.errorSamples.push(`ws error frame: ${text}`);
    const status = RunStatusSchema.safeParse(frame.status);
    if (frame.runId && status.success) me.runs.set(frame.runId, { status: status.data });
  }
}

interface LearnerState {
  account: Account;
  address: string;
  tokens: TokenPair;
  gotAt: number;
  runs: Map<string, { status: string }>;
  socket: WebSocket | undefined;
}

/**
 * Creates `count` learner accounts as an admin (POST /users: how ops enrol a class when registration
 * is closed, and not bound by REGISTRATIONS_PER_IP_PER_HOUR), `concurrency` at a time.
 */
export async function createAccounts(
  apiUrl: string,
  /** An admin's access token, fresh (creating a thousand accounts can outlive one token). */
  adminToken: () => Promise<string>,
  count: number,
  concurrency: number,
  prefix: string,
): Promise<Account[]> {
  const accounts = Array.from({ length: count }, (_, i) => ({
    email: `${prefix}-${i}@soak.test`,
    password: `soak learner passphrase ${prefix} ${i}`,
  }));
  let next = 0;
  const one = async (): Promise<void> => {
    while (next < accounts.length) {
      const a = accounts[next++]!;
      const res = await fetch(`${apiUrl}/api/v1/users`, {
        method: "POST",
        headers: { authorization: `Bearer ${await adminToken()}`, "content-type": "application/json" },
        body: JSON.stringify({ ...a, name: a.email.split("@")[0], role: "learner" }),
      });
      if (res.status !== 201)
        throw new Error(`POST /users for ${a.email}: ${res.status} ${await res.text()}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, one));
  return accounts;
}

/** Logs in; throws when refused. */
export async function login(apiUrl: string, account: Account): Promise<TokenPair> {
  const res = await fetch(`${apiUrl}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(account),
  });
  if (res.status !== 200) throw new Error(`login ${account.email}: ${res.status} ${await res.text()}`);
  return (await res.json()) as TokenPair;
}

/** Every run the account may see (an admin's: all), page by page. */
export async function listAllRuns(apiUrl: string, token: string): Promise<PublicRun[]> {
  const runs: PublicRun[] = [];
  let cursor: string | null = null;
  do {
    const q: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : "";
    const res = await fetch(`${apiUrl}/api/v1/runs?limit=100${q}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    if (res.status !== 200) throw new Error(`GET /runs: ${res.status} ${await res.text()}`);
    const page = (await res.json()) as { items: PublicRun[]; nextCursor: string | null };
    runs.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return runs;
}
