import type { Context, ServiceSchema } from "moleculer";
import {
  RUN_METRICS_EVENT,
  RUN_STATUS_EVENT,
  type RunMetricsEvent,
  type RunStatusEvent,
} from "../contracts/runs.ts";
import { SUBMISSION_GRADED_EVENT, type SubmissionGradedEvent } from "../contracts/submissions.ts";
import {
  SWEEP_STATUS_EVENT,
  SWEEP_TRIAL_EVENT,
  type SweepStatusEvent,
  type SweepTrialEvent,
} from "../contracts/sweeps.ts";
import type { ServiceDeps } from "../services/deps.ts";
import { resolveJwtSecret } from "../services/users/jwt-secret.ts";
import type { AuthState } from "../services/users/schemas.ts";
import { USERS_CHANGED_EVENT, type UsersChangedPayload } from "../services/users.service.ts";
import { createApiApp } from "./app.ts";
import { AuthStateCache } from "./auth/auth-state-cache.ts";
import type { ApiDeps } from "./context.ts";
import { type ApiServer, listen } from "./server.ts";
import { WsHub } from "./ws/hub.ts";

/**
 * The HTTP facade: a Koa app (api/) served on HOST:PORT. It reaches other services only through the
 * broker. `url` is set on the service instance once listening (the platform reports it).
 */
export default function apiService(deps: ServiceDeps): ServiceSchema {
  const { config, db } = deps;
  let server: ApiServer | undefined;
  let authStates: AuthStateCache | undefined;
  let hub: WsHub | undefined;

  return {
    name: "api",

    settings: {},

    // No `dependencies`: waiting for "users" would hold the HTTP server back (and keep a failed start
    // polling forever). The API starts at once; /readyz says whether the users service is reachable.
    dependencies: [],

    actions: {},

    events: {
      [USERS_CHANGED_EVENT]: {
        params: { id: "string" },
        handler(ctx: Context<UsersChangedPayload>) {
          authStates?.invalidate(ctx.params.id);
          void hub?.userChanged(ctx.params.id);
        },
      },

      // Core NATS delivers at most once: a `users.changed` sent while this node was disconnected is
      // gone. Moleculer says so after a reconnect, and every cached account state may then be stale.
      "$transporter.connected": {
        handler(ctx: Context<{ wasReconnect: boolean }>) {
          if (ctx.params.wasReconnect) authStates?.invalidate();
        },
      },

      // Every API node receives the run broadcasts and forwards them to its own WebSocket subscribers.
      [RUN_METRICS_EVENT]: {
        params: { runId: "string", iteration: "number", globalStep: "number", metrics: "object" },
        handler(ctx: Context<RunMetricsEvent>) {
          hub?.publishMetrics(ctx.params);
        },
      },

      [RUN_STATUS_EVENT]: {
        params: { runId: "string", status: "string" },
        handler(ctx: Context<RunStatusEvent>) {
          hub?.publishStatus(ctx.params);
        },
      },

      // Sweeps: each trial's status and latest metric, and the sweep's status, to its subscribers.
      [SWEEP_TRIAL_EVENT]: {
        params: { sweepId: "string", trial: "object" },
        handler(ctx: Context<SweepTrialEvent>) {
          hub?.publishSweepTrial(ctx.params);
        },
      },

      [SWEEP_STATUS_EVENT]: {
        params: { sweepId: "string", status: "string" },
        handler(ctx: Context<SweepStatusEvent>) {
          hub?.publishSweepStatus(ctx.params);
        },
      },

      // The author of a graded submission hears of it on every socket they have on this node.
      [SUBMISSION_GRADED_EVENT]: {
        params: { submissionId: "string", userId: "string", status: "string" },
        handler(ctx: Context<SubmissionGradedEvent>) {
          const { userId, ...rest } = ctx.params;
          hub?.publishToUser(userId, { type: "submission", ...rest });
        },
      },
    },

    methods: {},

    async started() {
      const broker = this.broker;
      authStates = new AuthStateCache(
        (id) => broker.call<AuthState, { id: string }>("users.authState", { id }),
        config.AUTH_STATE_CACHE_TTL_S * 1000,
      );
      const apiDeps: ApiDeps = {
        broker,
        config,
        logger: deps.logger.child({ svc: "api" }),
        jwtSecret: await resolveJwtSecret(config, deps.logger),
        authStates,
        dbReady: () => db.ping(),
      };
      const { app } = createApiApp(apiDeps);
      server = await listen(app as never, config.HOST, config.PORT);
      hub = new WsHub(
        {
          ...apiDeps,
          issuer: config.JWT_ISSUER,
          audience: config.JWT_AUDIENCE,
          allowedOrigins: config.CORS_ORIGINS,
        },
        {
          maxSocketsPerUser: config.WS_MAX_CONNECTIONS_PER_USER,
          upgradesPerMinutePerUser: config.WS_UPGRADES_PER_MIN_PER_USER,
          failedUpgradesPerMinutePerIp: config.WS_FAILED_UPGRADES_PER_MIN_PER_IP,
          trustProxy: config.TRUST_PROXY,
        },
      );
      hub.attach(server.server);
      this.wsHub = hub;
      this.url = server.url;
      // Called by the platform on SIGTERM before the broker stops, while calls still reach other
      // nodes: no new connections, every WebSocket closed with 1001 "going away" (clients reconnect
      // to another replica), then the requests in flight finish (up to the server's drain time).
      this.drain = async () => {
        const closing = server?.close();
        await hub?.close();
        await closing;
      };
      this.logger.info(`API listening on ${server.url}`);
    },

    async stopped() {
      await hub?.close();
      hub = undefined;
      await server?.close();
      server = undefined;
      authStates?.invalidate();
    },
  };
}
