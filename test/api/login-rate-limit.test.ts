import test from "ava";
import { useTestPlatform } from "../helpers/platform.ts";

// 10 failures per account (the default) and, in this file, 40 per address: every request comes from 127.0.0.1.
const api = useTestPlatform(test, { LOGIN_MAX_FAILURES_PER_IP: "40", LOGIN_FAILURE_WINDOW_S: "600" });

async function attempt(email: string, password: string) {
  return api().request<{ retryAfter?: number; status: number }>("POST", "/api/v1/auth/login", {
    body: { email, password },
  });
}

test.serial(
  "the 11th failed login for an account from one address gets 429 with Retry-After, even with the right password",
  async (t) => {
    const { email, password } = await api().register();
    for (let i = 1; i <= 10; i++) {
      t.is((await attempt(email, `wrong password ${i}`)).status, 401, `attempt ${i}`);
    }
    const blocked = await attempt(email, "wrong password 11");
    t.is(blocked.status, 429);
    t.is(blocked.headers.get("content-type"), "application/problem+json");
    const retryAfter = Number(blocked.headers.get("retry-after"));
    t.true(retryAfter >= 1 && retryAfter <= 600, `Retry-After ${retryAfter}`);
    t.is(blocked.body.retryAfter, retryAfter);

    const right = await attempt(email, password);
    t.is(right.status, 429, "blocked means blocked, whatever the password");

    const other = await api().register();
    t.is((await attempt(other.email, other.password)).status, 200, "other accounts are unaffected");
  },
);

test.serial("a successful login clears the account's failures", async (t) => {
  const { email, password } = await api().register();
  for (let i = 1; i <= 9; i++) await attempt(email, `wrong password ${i}`);
  t.is((await attempt(email, password)).status, 200);
  for (let i = 1; i <= 10; i++) {
    t.is((await attempt(email, `wrong again ${i}`)).status, 401, `attempt ${i} after the reset`);
  }
  t.is((await attempt(email, "wrong again 11")).status, 429);
});

test.serial("failures from one address across many accounts hit the per-address limit", async (t) => {
  let blockedAt = 0;
  for (let i = 1; i <= 41 && blockedAt === 0; i++) {
    const res = await attempt(`spray-${i}@example.org`, "guess guess guess");
    if (res.status === 429) blockedAt = i;
    else t.is(res.status, 401);
  }
  t.true(blockedAt > 0, "the address was blocked within 41 attempts");
  t.is((await attempt("spray-fresh@example.org", "guess guess guess")).status, 429);
});
