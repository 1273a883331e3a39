import test from "ava";
import { startTestPlatform } from "../helpers/platform.ts";

/** Where /metrics is served (issue 15, finding 8): not on the public API port in production. */

test("in production /metrics is not on the API port, and is on the internal HEALTH_PORT with the HTTP metrics", async (t) => {
  const api = await startTestPlatform(t, { NODE_ENV: "production", HEALTH_PORT: "0" });
  await api.request("GET", "/api/v1/me");
  await api.register(); // a service call, for the broker's request metrics
  const publicPort = await api.request("GET", "/metrics");
  t.is(publicPort.status, 404);

  const healthUrl = api.platform.healthUrl;
  t.truthy(healthUrl, "the API process serves HEALTH_PORT");
  const scraped = await fetch(`${healthUrl}/metrics`);
  t.is(scraped.status, 200);
  const text = await scraped.text();
  t.regex(text, /^http_request_duration_seconds_bucket\{.*route="\/api\/v1\/me"/m, "the API's HTTP metrics");
  t.regex(text, /^moleculer_request_total/m, "the broker's metrics");
  t.is((await fetch(`${healthUrl}/healthz`)).status, 200);
  t.is((await fetch(`${healthUrl}/readyz`)).status, 200);
});

test("with METRICS_TOKEN the API port serves /metrics to that bearer token only", async (t) => {
  const token = "metrics-token-0123456789";
  const api = await startTestPlatform(t, { NODE_ENV: "production", METRICS_TOKEN: token });
  t.is((await api.request("GET", "/metrics")).status, 401);
  t.is((await api.request("GET", "/metrics", { token: "metrics-token-wrong-value" })).status, 401);
  const ok = await api.request<string>("GET", "/metrics", { token });
  t.is(ok.status, 200);
  t.regex(ok.body, /^process_cpu_seconds_total /m);
});

test("outside production the API port serves /metrics as before (development, tests)", async (t) => {
  const api = await startTestPlatform(t, {});
  t.is((await api.request("GET", "/metrics")).status, 200);
});
