import test from "ava";
import { useTestPlatform } from "../helpers/platform.ts";

// Behind an ingress (TRUST_PROXY), each X-Forwarded-For address is a client of its own. The global
// per-account budget is small here so that a distributed guesser reaches it in a few requests.
const api = useTestPlatform(test, {
  TRUST_PROXY: "true",
  LOGIN_MAX_FAILURES_PER_ACCOUNT: "10",
  LOGIN_MAX_FAILURES_PER_ACCOUNT_GLOBAL: "15",
  LOGIN_FAILURE_WINDOW_S: "600",
});

function loginFrom(ip: string, email: string, password: string) {
  return api().request<{ limit?: string; value?: number }>("POST", "/api/v1/auth/login", {
    body: { email, password },
    headers: { "x-forwarded-for": ip },
  });
}

test.serial(
  "an attacker hammering an account cannot lock its owner out, and a distributed one only slows new clients",
  async (t) => {
    const { email, password } = await api().register();
    const home = "198.51.100.7";
    t.is((await loginFrom(home, email, password)).status, 200, "the owner logged in from home before");

    const attacker = "203.0.113.66";
    for (let i = 1; i <= 10; i++) {
      t.is((await loginFrom(attacker, email, `wrong password ${i}`)).status, 401, `guess ${i}`);
    }
    const blocked = await loginFrom(attacker, email, "wrong password 11");
    t.is(blocked.status, 429);
    t.like(blocked.body, { limit: "LOGIN_MAX_FAILURES_PER_ACCOUNT", value: 10 });
    t.truthy(blocked.headers.get("retry-after"));
    t.is((await loginFrom(attacker, email, password)).status, 429, "the attacker's client stays blocked");
    t.is((await loginFrom(home, email, password)).status, 200, "the owner is not");
    t.is(
      (await loginFrom("192.0.2.20", email, password)).status,
      200,
      "nor is a new client of the owner yet",
    );

    // A second address takes the account past its global budget of 15.
    const second = "203.0.113.67";
    for (let i = 1; i <= 5; i++) t.is((await loginFrom(second, email, `guess ${i}`)).status, 401);
    const global = await loginFrom(second, email, "guess 6");
    t.is(global.status, 429);
    t.like(global.body, { limit: "LOGIN_MAX_FAILURES_PER_ACCOUNT_GLOBAL", value: 15 });
    t.is(
      (await loginFrom("192.0.2.99", email, password)).status,
      429,
      "a client the account never saw waits",
    );
    t.is((await loginFrom(home, email, password)).status, 200, "the owner's known client still logs in");
  },
);
