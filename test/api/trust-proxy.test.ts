import test from "ava";
import { useTestPlatform } from "../helpers/platform.ts";

// Behind an ingress every connection comes from the proxy; with TRUST_PROXY the per-address login
// limit must count the forwarded client address instead.
const api = useTestPlatform(test, {
  TRUST_PROXY: "true",
  LOGIN_MAX_FAILURES_PER_IP: "3",
  LOGIN_FAILURE_WINDOW_S: "600",
});

function attemptFrom(ip: string, i: number) {
  return api().request("POST", "/api/v1/auth/login", {
    body: { email: `proxy-${ip}-${i}@example.org`, password: "guess guess guess" },
    headers: { "x-forwarded-for": ip },
  });
}

test.serial(
  "with TRUST_PROXY the per-address login limit counts X-Forwarded-For clients apart",
  async (t) => {
    for (let i = 1; i <= 3; i++) t.is((await attemptFrom("203.0.113.7", i)).status, 401, `attempt ${i}`);
    t.is((await attemptFrom("203.0.113.7", 4)).status, 429, "the 4th failure from one client is limited");
    t.is((await attemptFrom("198.51.100.9", 1)).status, 401, "another client behind the same proxy is not");
  },
);
