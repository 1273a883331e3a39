import test from "ava";
import { ConfigError, loadConfig } from "../config.ts";

/**
 * Moleculer beats every HEARTBEAT_INTERVAL_S ± 0.5 s and drops a node after HEARTBEAT_TIMEOUT_S
 * without a beat. Settings under which a live node is dropped for one late beat (each drop is 503s
 * until the node's next beat) are refused at start, naming the variable and the least value.
 */
test("the default heartbeats and the fault tests' are accepted", (t) => {
  const d = loadConfig({});
  t.deepEqual([d.HEARTBEAT_INTERVAL_S, d.HEARTBEAT_TIMEOUT_S], [5, 15]);
  const fast = loadConfig({ HEARTBEAT_INTERVAL_S: "1", HEARTBEAT_TIMEOUT_S: "3" });
  t.deepEqual([fast.HEARTBEAT_INTERVAL_S, fast.HEARTBEAT_TIMEOUT_S], [1, 3]);
});

test("an interval under 1 s is refused: Moleculer's ±0.5 s could bring its period to nothing", (t) => {
  const err = t.throws(() => loadConfig({ HEARTBEAT_INTERVAL_S: "0.5", HEARTBEAT_TIMEOUT_S: "10" }), {
    instanceOf: ConfigError,
  });
  t.regex(err.message, /HEARTBEAT_INTERVAL_S: must be at least 1/);
});

test("a timeout under two beat periods is refused with the least value it may take", (t) => {
  const err = t.throws(() => loadConfig({ HEARTBEAT_INTERVAL_S: "5", HEARTBEAT_TIMEOUT_S: "10" }), {
    instanceOf: ConfigError,
  });
  t.regex(err.message, /HEARTBEAT_TIMEOUT_S: must be at least 2 × \(HEARTBEAT_INTERVAL_S \+ 0\.5\) = 11 s/);
  t.notThrows(() => loadConfig({ HEARTBEAT_INTERVAL_S: "5", HEARTBEAT_TIMEOUT_S: "11" }));
  const low = t.throws(() => loadConfig({ HEARTBEAT_TIMEOUT_S: "2" }), { instanceOf: ConfigError });
  t.regex(low.message, /HEARTBEAT_TIMEOUT_S/);
});
