import test from "ava";
import { ConfigError, loadConfig } from "../config.ts";
import { KNOWN_SERVICES, resolveServices, UnknownServiceError } from "../platform.ts";

test("SERVICES=all expands to every known service", (t) => {
  t.deepEqual(resolveServices(["all"]), KNOWN_SERVICES);
  t.true(KNOWN_SERVICES.includes("api") && KNOWN_SERVICES.includes("users"));
});

test("an unknown service name fails the start instead of hosting less", (t) => {
  const err = t.throws(() => resolveServices(["api", "apii"]), { instanceOf: UnknownServiceError });
  t.regex(err.message, /unknown: apii/);
  t.throws(() => resolveServices([]), { instanceOf: UnknownServiceError });
});

test("SERVICES is parsed from a comma-separated list", (t) => {
  t.deepEqual(loadConfig({ SERVICES: " api, users ,," }).SERVICES, ["api", "users"]);
});

test("configuration errors name the variable and the reason", (t) => {
  const err = t.throws(() => loadConfig({ PORT: "99999", JWT_SECRET: "short" }), { instanceOf: ConfigError });
  t.regex(err.message, /PORT/);
  t.regex(err.message, /JWT_SECRET: JWT_SECRET must be at least 32 characters/);
});

test("defaults give a local process with the embedded database", (t) => {
  const config = loadConfig({});
  t.is(config.PORT, 3000);
  t.is(config.NATS_URL, undefined);
  t.is(config.DATABASE_URL, undefined);
  t.deepEqual(config.SERVICES, ["all"]);
});
