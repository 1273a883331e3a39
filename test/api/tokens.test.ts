import { createHmac } from "node:crypto";
import test from "ava";
import type { TokenPair } from "../../contracts/users.ts";
import { TEST_JWT_SECRET, useTestPlatform } from "../helpers/platform.ts";

const api = useTestPlatform(test);

/** A JWT assembled by hand (RFC 7519), so that each test controls exactly one defect. */
function craftToken(header: object, payload: object, secret: string | null = TEST_JWT_SECRET): string {
  const encode = (part: object) => Buffer.from(JSON.stringify(part)).toString("base64url");
  const signingInput = `${encode(header)}.${encode(payload)}`;
  const signature =
    secret === null ? "" : createHmac("sha256", secret).update(signingInput).digest("base64url");
  return `${signingInput}.${signature}`;
}

const now = () => Math.floor(Date.now() / 1000);

async function validClaims(): Promise<Record<string, unknown>> {
  const { user } = await api().register();
  return { sub: user.id, role: "learner", iss: "proxima", aud: "proxima-api", iat: now(), exp: now() + 600 };
}

async function meStatus(token: string): Promise<{ status: number; challenge: string | null }> {
  const res = await api().request("GET", "/api/v1/me", { token });
  return { status: res.status, challenge: res.headers.get("www-authenticate") };
}

test("a hand-crafted token with every claim right is accepted (the control for the tests below)", async (t) => {
  const token = craftToken({ alg: "HS256", typ: "JWT" }, await validClaims());
  t.is((await meStatus(token)).status, 200);
});

test("a token with alg none is refused with 401 and an invalid_token challenge", async (t) => {
  const token = craftToken({ alg: "none", typ: "JWT" }, await validClaims(), null);
  const { status, challenge } = await meStatus(token);
  t.is(status, 401);
  t.is(challenge, 'Bearer realm="proxima", error="invalid_token"');
});

test("a token signed with another secret is refused", async (t) => {
  const token = craftToken(
    { alg: "HS256", typ: "JWT" },
    await validClaims(),
    "some-other-secret-of-sufficient-length!!",
  );
  t.is((await meStatus(token)).status, 401);
});

test("a token signed with another HMAC algorithm than the pinned HS256 is refused", async (t) => {
  const claims = await validClaims();
  const encode = (part: object) => Buffer.from(JSON.stringify(part)).toString("base64url");
  const input = `${encode({ alg: "HS512", typ: "JWT" })}.${encode(claims)}`;
  const token = `${input}.${createHmac("sha512", TEST_JWT_SECRET).update(input).digest("base64url")}`;
  t.is((await meStatus(token)).status, 401);
});

test("an expired token is refused", async (t) => {
  const claims = { ...(await validClaims()), iat: now() - 3600, exp: now() - 60 };
  t.is((await meStatus(craftToken({ alg: "HS256" }, claims))).status, 401);
});

test("a token for another audience or from another issuer is refused", async (t) => {
  const claims = await validClaims();
  t.is((await meStatus(craftToken({ alg: "HS256" }, { ...claims, aud: "someone-else" }))).status, 401);
  t.is((await meStatus(craftToken({ alg: "HS256" }, { ...claims, iss: "someone-else" }))).status, 401);
  const { aud: _aud, ...noAudience } = claims;
  t.is((await meStatus(craftToken({ alg: "HS256" }, noAudience))).status, 401);
});

test("a token without exp is refused", async (t) => {
  const { exp: _exp, ...claims } = await validClaims();
  t.is((await meStatus(craftToken({ alg: "HS256" }, claims))).status, 401);
});

test("a token whose subject does not exist is refused", async (t) => {
  const claims = { ...(await validClaims()), sub: "00000000-0000-4000-8000-000000000000" };
  t.is((await meStatus(craftToken({ alg: "HS256" }, claims))).status, 401);
});

test("a missing or malformed Authorization header gets 401 with a plain Bearer challenge", async (t) => {
  const missing = await api().request("GET", "/api/v1/me");
  t.is(missing.status, 401);
  t.is(missing.headers.get("www-authenticate"), 'Bearer realm="proxima"');
  const basic = await api().request("GET", "/api/v1/me", {
    headers: { authorization: "Basic dXNlcjpwYXNz" },
  });
  t.is(basic.status, 401);
  const garbage = await api().request("GET", "/api/v1/me", { token: "not.a.jwt" });
  t.is(garbage.status, 401);
});

test.serial("a refresh token works once and is replaced by a new pair", async (t) => {
  const { learner, request } = api();
  const { tokens } = await learner();
  const first = await request<TokenPair>("POST", "/api/v1/auth/refresh", {
    body: { refreshToken: tokens.refreshToken },
  });
  t.is(first.status, 200);
  t.not(first.body.refreshToken, tokens.refreshToken);
  t.is((await meStatus(first.body.accessToken)).status, 200);

  const second = await request<TokenPair>("POST", "/api/v1/auth/refresh", {
    body: { refreshToken: first.body.refreshToken },
  });
  t.is(second.status, 200);
});

test.serial(
  "reusing a rotated refresh token revokes its whole family, the newest token included",
  async (t) => {
    const { learner, request } = api();
    const { tokens } = await learner();
    const rotated = await request<TokenPair>("POST", "/api/v1/auth/refresh", {
      body: { refreshToken: tokens.refreshToken },
    });
    t.is(rotated.status, 200);

    const replay = await request("POST", "/api/v1/auth/refresh", {
      body: { refreshToken: tokens.refreshToken },
    });
    t.is(replay.status, 401);
    t.is(replay.headers.get("content-type"), "application/problem+json");

    const legitimate = await request("POST", "/api/v1/auth/refresh", {
      body: { refreshToken: rotated.body.refreshToken },
    });
    t.is(legitimate.status, 401, "the newer token of the family must be revoked as well");
  },
);

test.serial("another login's family is untouched by a reuse in one family", async (t) => {
  const { learner, login, request } = api();
  const account = await learner();
  const other = await login(account.email, account.password);
  await request("POST", "/api/v1/auth/refresh", { body: { refreshToken: account.tokens.refreshToken } });
  await request("POST", "/api/v1/auth/refresh", { body: { refreshToken: account.tokens.refreshToken } });
  const res = await request("POST", "/api/v1/auth/refresh", { body: { refreshToken: other.refreshToken } });
  t.is(res.status, 200);
});

test("an unknown refresh token is refused", async (t) => {
  const res = await api().request("POST", "/api/v1/auth/refresh", {
    body: { refreshToken: "bm90LWEtcmVhbC10b2tlbg" },
  });
  t.is(res.status, 401);
});

test("logout revokes the refresh token, and logging out again is harmless", async (t) => {
  const { learner, request } = api();
  const { tokens } = await learner();
  const out = await request("POST", "/api/v1/auth/logout", { body: { refreshToken: tokens.refreshToken } });
  t.is(out.status, 204);
  t.is(out.body, "");
  const refresh = await request("POST", "/api/v1/auth/refresh", {
    body: { refreshToken: tokens.refreshToken },
  });
  t.is(refresh.status, 401);
  const again = await request("POST", "/api/v1/auth/logout", { body: { refreshToken: tokens.refreshToken } });
  t.is(again.status, 204);
});
