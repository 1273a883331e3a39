import test from "ava";
import { ServiceBroker } from "moleculer";
import { loadConfig } from "../../config.ts";
import { NotFoundError, RateLimitedError } from "../../lib/errors.ts";
import { createRootLogger } from "../../lib/logger.ts";
import { createBrokerOptions } from "../../moleculer.config.ts";
import { NATS_URL, uniqueNamespace } from "../ops/helpers.ts";

/**
 * On `npm run cluster` the API and the services are separate processes: a typed error thrown by a
 * service must reach the API as its own class (the problem middleware maps it to its status), not as
 * the plain Error Moleculer rebuilds unknown error names into (a 500 for a missing run).
 */
test("a typed error thrown on another node arrives over NATS as its own class, with its code and data", async (t) => {
  const config = loadConfig({ NATS_URL, MOLECULER_NAMESPACE: uniqueNamespace(), LOG_LEVEL: "silent" });
  const logger = createRootLogger(config);
  const server = new ServiceBroker({ ...createBrokerOptions(config, [], logger), nodeID: "errors-server" });
  const client = new ServiceBroker({ ...createBrokerOptions(config, [], logger), nodeID: "errors-client" });
  server.createService({
    name: "thrower",
    actions: {
      missing: () => {
        throw new NotFoundError("run");
      },
      limited: () => {
        throw new RateLimitedError("too many", 42);
      },
      plain: () => {
        throw new Error("a bug");
      },
    },
  });
  t.teardown(async () => {
    await client.stop();
    await server.stop();
  });
  await server.start();
  await client.start();
  await client.waitForServices("thrower", 30_000);

  const missing = await t.throwsAsync(client.call("thrower.missing"), { instanceOf: NotFoundError });
  t.like(missing, { code: 404, type: "NOT_FOUND", message: "run not found", name: "NotFoundError" });
  const limited = await t.throwsAsync(client.call("thrower.limited"), { instanceOf: RateLimitedError });
  t.like(limited, { code: 429, data: { retryAfter: 42 } });
  // Anything else stays as Moleculer rebuilds it: not a typed error, so a 500.
  const plain = await t.throwsAsync(client.call("thrower.plain"));
  t.false(plain instanceof NotFoundError);
  t.is(plain?.message, "a bug");
});
