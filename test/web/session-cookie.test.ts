import test from "ava";
import { useTestPlatform } from "../helpers/platform.ts";

/**
 * Browser sessions: the refresh token only ever in an httpOnly, SameSite=Strict cookie scoped to
 * /api/v1/auth/session, the access token in the body; the custom header is required.
 */
const api = useTestPlatform(test);
const SESSION = { "x-proxima-session": "1", "content-type": "application/json" };

function cookies(res: Response): string[] {
  return res.headers.getSetCookie();
}

function refreshCookieOf(res: Response): string {
  const cookie = cookies(res).find((c) => c.startsWith("proxima_refresh="));
  if (!cookie) throw new Error(`no refresh cookie in ${JSON.stringify(cookies(res))}`);
  return cookie.split(";")[0]!;
}

async function loginSession(email: string, password: string): Promise<Response> {
  return fetch(`${api().url}/api/v1/auth/session`, {
    method: "POST",
    headers: SESSION,
    body: JSON.stringify({ email, password }),
  });
}

test("a browser login sets the refresh token as an httpOnly, SameSite=Strict cookie and returns no refresh token", async (t) => {
  const me = await api().register();
  const res = await loginSession(me.email, me.password);
  t.is(res.status, 200);
  const body = (await res.json()) as Record<string, unknown>;
  t.is(typeof body["accessToken"], "string");
  t.false("refreshToken" in body);
  const cookie = cookies(res).find((c) => c.startsWith("proxima_refresh="))!;
  t.regex(cookie, /; path=\/api\/v1\/auth\/session/i);
  t.regex(cookie, /; httponly/i);
  t.regex(cookie, /; samesite=strict/i);
  t.notRegex(cookie, /; secure/i, "plain HTTP: Secure would make the browser drop it");
  const hint = cookies(res).find((c) => c.startsWith("proxima_session="))!;
  t.regex(hint, /^proxima_session=1;/);
  t.notRegex(hint, /httponly/i);

  const me2 = await api().request("GET", "/api/v1/me", { token: body["accessToken"] as string });
  t.is(me2.status, 200);
});

test("behind TLS (a trusted proxy saying https) the cookie is Secure", async (t) => {
  const { startTestPlatform } = await import("../helpers/platform.ts");
  const behindProxy = await startTestPlatform(t, { TRUST_PROXY: "true" });
  const me = await behindProxy.register();
  const res = await fetch(`${behindProxy.url}/api/v1/auth/session`, {
    method: "POST",
    headers: { ...SESSION, "x-forwarded-proto": "https" },
    body: JSON.stringify({ email: me.email, password: me.password }),
  });
  t.is(res.status, 200);
  for (const cookie of cookies(res)) t.regex(cookie, /; secure/i, cookie);
});

test("refresh rotates the cookie; the old cookie presented again is refused and ends the login", async (t) => {
  const me = await api().register();
  const first = refreshCookieOf(await loginSession(me.email, me.password));
  const refreshed = await fetch(`${api().url}/api/v1/auth/session/refresh`, {
    method: "POST",
    headers: { ...SESSION, cookie: first },
  });
  t.is(refreshed.status, 200);
  t.is(typeof ((await refreshed.json()) as { accessToken: string }).accessToken, "string");
  const second = refreshCookieOf(refreshed);
  t.not(second, first);

  const reused = await fetch(`${api().url}/api/v1/auth/session/refresh`, {
    method: "POST",
    headers: { ...SESSION, cookie: first },
  });
  t.is(reused.status, 401);
  t.true(
    cookies(reused).some((c) => /^proxima_refresh=;/.test(c)),
    "the refused cookie is cleared",
  );
  const after = await fetch(`${api().url}/api/v1/auth/session/refresh`, {
    method: "POST",
    headers: { ...SESSION, cookie: second },
  });
  t.is(after.status, 401, "reuse revoked the whole login");
});

test("session routes without the custom header are refused (CSRF), and refresh without a cookie is 401", async (t) => {
  const me = await api().register();
  const cookie = refreshCookieOf(await loginSession(me.email, me.password));
  const noHeader = await fetch(`${api().url}/api/v1/auth/session/refresh`, {
    method: "POST",
    headers: { cookie },
  });
  t.is(noHeader.status, 403);
  t.regex(((await noHeader.json()) as { detail: string }).detail, /x-proxima-session/);
  const loginNoHeader = await fetch(`${api().url}/api/v1/auth/session`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: me.email, password: me.password }),
  });
  t.is(loginNoHeader.status, 403);
  const noCookie = await fetch(`${api().url}/api/v1/auth/session/refresh`, {
    method: "POST",
    headers: SESSION,
  });
  t.is(noCookie.status, 401);
});

test("logout revokes the cookie's login and clears the cookie", async (t) => {
  const me = await api().register();
  const cookie = refreshCookieOf(await loginSession(me.email, me.password));
  const out = await fetch(`${api().url}/api/v1/auth/session/logout`, {
    method: "POST",
    headers: { ...SESSION, cookie },
  });
  t.is(out.status, 204);
  t.true(cookies(out).some((c) => /^proxima_refresh=;/.test(c)));
  const again = await fetch(`${api().url}/api/v1/auth/session/refresh`, {
    method: "POST",
    headers: { ...SESSION, cookie },
  });
  t.is(again.status, 401);
});

test("the JSON-body login still returns both tokens (the CLI's way)", async (t) => {
  const me = await api().register();
  const pair = await api().login(me.email, me.password);
  t.is(typeof pair.refreshToken, "string");
});
