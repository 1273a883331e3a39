import test from "ava";
import type { PublicUser, TokenPair } from "../../contracts/users.ts";
import { TEST_PASSWORD, useTestPlatform } from "../helpers/platform.ts";

const api = useTestPlatform(test);

test("register, log in, and read one's own account", async (t) => {
  const { request } = api();
  const registered = await request<PublicUser>("POST", "/api/v1/auth/register", {
    body: { email: "  Ada.Lovelace@Example.ORG ", password: TEST_PASSWORD, name: "Ada" },
  });
  t.is(registered.status, 201);
  t.is(registered.body.email, "ada.lovelace@example.org");
  t.is(registered.body.role, "learner");
  t.false(registered.body.disabled);
  t.false("passwordHash" in registered.body);
  t.is(registered.headers.get("location"), `/api/v1/users/${registered.body.id}`);

  const login = await request<TokenPair>("POST", "/api/v1/auth/login", {
    body: { email: "ADA.LOVELACE@example.org", password: TEST_PASSWORD },
  });
  t.is(login.status, 200);
  t.is(login.body.tokenType, "Bearer");
  t.is(login.body.expiresIn, 900);
  t.is(login.body.accessToken.split(".").length, 3);
  t.true(login.body.refreshToken.length >= 43);

  const me = await request<PublicUser>("GET", "/api/v1/me", { token: login.body.accessToken });
  t.is(me.status, 200);
  t.deepEqual(me.body, registered.body);
});

test("an email registered in any case cannot be registered again (409)", async (t) => {
  const { register, request } = api();
  const { email } = await register();
  const again = await request("POST", "/api/v1/auth/register", {
    body: { email: email.toUpperCase(), password: TEST_PASSWORD, name: "Twin" },
  });
  t.is(again.status, 409);
  t.is(again.headers.get("content-type"), "application/problem+json");
});

test("a short password is refused with 422 naming the password field", async (t) => {
  const res = await api().request<{ errors: { field: string; message: string }[] }>(
    "POST",
    "/api/v1/auth/register",
    { body: { email: "short@example.org", password: "abc123", name: "Short" } },
  );
  t.is(res.status, 422);
  t.deepEqual(
    res.body.errors.map((e) => e.field),
    ["password"],
  );
  t.regex(res.body.errors[0]!.message, /at least 8/);
});

test("a commonly used password is refused with 422 naming the password field, whatever its case", async (t) => {
  for (const password of ["password1", "Iloveyou1", "qwertyuiop", "Trustno1"]) {
    const res = await api().request<{ errors: { field: string; message: string }[] }>(
      "POST",
      "/api/v1/auth/register",
      { body: { email: "common@example.org", password, name: "Common" } },
    );
    t.is(res.status, 422, password);
    t.is(res.body.errors[0]?.field, "password");
    t.regex(res.body.errors[0]!.message, /common/);
  }
});

test("a password equal to the email's local part is refused", async (t) => {
  const res = await api().request<{ errors: { field: string }[] }>("POST", "/api/v1/auth/register", {
    body: { email: "grace.hopper@example.org", password: "grace.hopper", name: "Grace" },
  });
  t.is(res.status, 422);
  t.is(res.body.errors[0]?.field, "password");
});

test("a wrong password gets 401, and so does an unknown email, with the same detail", async (t) => {
  const { register, request } = api();
  const { email } = await register();
  const wrong = await request<{ detail: string }>("POST", "/api/v1/auth/login", {
    body: { email, password: "not the password at all" },
  });
  const unknown = await request<{ detail: string }>("POST", "/api/v1/auth/login", {
    body: { email: "nobody@example.org", password: "not the password at all" },
  });
  t.is(wrong.status, 401);
  t.is(unknown.status, 401);
  t.is(wrong.body.detail, unknown.body.detail);
  t.regex(wrong.headers.get("www-authenticate") ?? "", /^Bearer realm="proxima"/);
});

test("the stored password is an argon2id hash with at least OWASP's parameters", async (t) => {
  const { register, platform } = api();
  const { user } = await register();
  const rows = await platform.db.orm.em
    .fork()
    .getConnection()
    .execute<{ password_hash: string }[]>("select password_hash from users where id = ?", [user.id]);
  const hash = rows[0]!.password_hash;
  t.regex(hash, /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=1\$/);
  const [, m, tCost] = /m=(\d+),t=(\d+)/.exec(hash)!;
  t.true(Number(m) >= 19_456);
  t.true(Number(tCost) >= 2);
});
