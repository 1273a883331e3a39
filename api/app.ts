import Koa from "koa";
import { authenticate, requireRole } from "./auth/authenticate.ts";
import type { ApiDeps, ApiState } from "./context.ts";
import { httpMetricsMiddleware } from "./metrics.ts";
import { corsFromAllowlist } from "./middleware/cors.ts";
import { parseByteSize } from "./middleware/json-body.ts";
import { problemMiddleware } from "./middleware/problem.ts";
import { apiRateLimit } from "./middleware/rate-limit.ts";
import { requestContext } from "./middleware/request-context.ts";
import { securityHeaders } from "./middleware/security-headers.ts";
import { buildOpenApiDocument } from "./openapi.ts";
import { API_V1_MODULES } from "./routes/index.ts";
import { documentationRoutes, systemRoutes } from "./routes/system.ts";
import { RouteTable } from "./routing/route-table.ts";
import { dashboard } from "./static.ts";

/**
 * The Koa application of the API facade. Outermost first: metrics (times everything), request id
 * and logger, security headers, CORS, the problem mapper (everything inside it that throws becomes
 * problem+json), then the router, whose routes carry their own authentication, rate limit, role check
 * and validation.
 */
export const API_PREFIX = "/api/v1";

export interface ApiApp {
  app: Koa<ApiState>;
  routes: RouteTable;
  openApiDocument(): Record<string, unknown>;
}

export function createApiApp(deps: ApiDeps): ApiApp {
  const { config } = deps;
  const routes = new RouteTable();
  let document: Record<string, unknown> | undefined;
  const openApiDocument = () => {
    document ??= buildOpenApiDocument(routes, {
      title: "Proxima",
      version: process.env["npm_package_version"] ?? "0.1.0",
      description: "Distributed PPO training: accounts and sessions (more areas as the platform grows).",
    });
    return document;
  };

  systemRoutes(routes.scope(""), deps);
  const v1 = routes.scope(API_PREFIX);
  for (const addModule of API_V1_MODULES) addModule(v1, deps);
  documentationRoutes(v1, openApiDocument);

  const router = routes.router({
    authenticate: authenticate({
      secret: deps.jwtSecret,
      issuer: config.JWT_ISSUER,
      audience: config.JWT_AUDIENCE,
      authStates: deps.authStates,
    }),
    requireRole,
    rateLimit: apiRateLimit(config.API_RATE_LIMIT_PER_MIN),
    bodyLimit: { bytes: parseByteSize(config.BODY_LIMIT), text: config.BODY_LIMIT },
  });

  const app = new Koa<ApiState>();
  app.silent = true; // errors are logged by the problem middleware, with the request id
  // Behind an ingress the socket address is the proxy's: per-IP limits need the forwarded client address.
  app.proxy = config.TRUST_PROXY;
  app.use(httpMetricsMiddleware());
  app.use(requestContext(deps.logger));
  app.use(securityHeaders({ production: config.NODE_ENV === "production" }));
  app.use(corsFromAllowlist(config.CORS_ORIGINS));
  app.use(problemMiddleware());
  // The dashboard answers only GET/HEAD outside /api, /metrics, /healthz, /readyz and /ws.
  app.use(dashboard({ build: config.NODE_ENV === "production" ? "never" : "auto", logger: deps.logger }));
  app.use(router.routes());
  app.use(router.allowedMethods());
  return { app, routes, openApiDocument };
}
