import test from "ava";
import type { PublicUser } from "../../contracts/users.ts";
import { TEST_ADMIN, useTestPlatform } from "../helpers/platform.ts";

const api = useTestPlatform(test);

interface Page {
  items: PublicUser[];
  nextCursor: string | null;
}

test("a learner calling admin endpoints gets 403", async (t) => {
  const { learner, request } = api();
  const { user, tokens } = await learner();
  const list = await request("GET", "/api/v1/users", { token: tokens.accessToken });
  t.is(list.status, 403);
  const patch = await request("PATCH", `/api/v1/users/${user.id}`, {
    token: tokens.accessToken,
    body: { role: "admin" },
  });
  t.is(patch.status, 403);
});

test("a learner asking for another user's id gets 404, for their own id the account", async (t) => {
  const { learner, register, request } = api();
  const me = await learner();
  const other = await register();
  const theirs = await request("GET", `/api/v1/users/${other.user.id}`, { token: me.tokens.accessToken });
  t.is(theirs.status, 404);
  const nobody = await request("GET", "/api/v1/users/00000000-0000-4000-8000-000000000000", {
    token: me.tokens.accessToken,
  });
  t.is(nobody.status, 404);
  const mine = await request<PublicUser>("GET", `/api/v1/users/${me.user.id}`, {
    token: me.tokens.accessToken,
  });
  t.is(mine.status, 200);
  t.is(mine.body.id, me.user.id);
});

test("an id that is not a UUID is a 404, not a validation error", async (t) => {
  const admin = await api().loginAdmin();
  const res = await api().request("GET", "/api/v1/users/not-a-uuid", { token: admin.accessToken });
  t.is(res.status, 404);
});

test("the bootstrap admin exists, and can read any account", async (t) => {
  const { register, loginAdmin, request } = api();
  const admin = await loginAdmin();
  const me = await request<PublicUser>("GET", "/api/v1/me", { token: admin.accessToken });
  t.is(me.body.email, TEST_ADMIN.email);
  t.is(me.body.role, "admin");
  const other = await register();
  const res = await request<PublicUser>("GET", `/api/v1/users/${other.user.id}`, {
    token: admin.accessToken,
  });
  t.is(res.status, 200);
  t.is(res.body.email, other.email);
});

test.serial("an admin pages through the users by cursor, each user once", async (t) => {
  const { register, loginAdmin, request } = api();
  for (let i = 0; i < 5; i++) await register();
  const admin = await loginAdmin();
  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const query: string = cursor ? `?limit=2&cursor=${encodeURIComponent(cursor)}` : "?limit=2";
    const page: { status: number; body: Page } = await request<Page>("GET", `/api/v1/users${query}`, {
      token: admin.accessToken,
    });
    t.is(page.status, 200);
    t.true(page.body.items.length <= 2);
    seen.push(...page.body.items.map((u) => u.email));
    cursor = page.body.nextCursor;
    pages += 1;
  } while (cursor && pages < 100);
  t.true(seen.length >= 6);
  t.is(new Set(seen).size, seen.length, "no user twice");
  t.deepEqual(seen, [...seen].sort(), "ordered by email");
});

test("a malformed cursor or limit is a 422 naming the query field", async (t) => {
  const admin = await api().loginAdmin();
  const limit = await api().request<{ errors: { field: string }[] }>("GET", "/api/v1/users?limit=1000", {
    token: admin.accessToken,
  });
  t.is(limit.status, 422);
  t.is(limit.body.errors[0]?.field, "query.limit");
  const cursor = await api().request<{ errors: { field: string }[] }>("GET", "/api/v1/users?cursor=%25%25", {
    token: admin.accessToken,
  });
  t.is(cursor.status, 422);
  t.is(cursor.body.errors[0]?.field, "cursor");
});

test.serial(
  "a change the API heard no event of (written straight to the database) is served from its cache until the NATS connection comes back, then the cache is dropped",
  async (t) => {
    const { learner, request, platform } = api();
    const victim = await learner();
    const me = () => request("GET", "/api/v1/me", { token: victim.tokens.accessToken });
    t.is((await me()).status, 200);
    // No `users.changed`: as if the event had been sent while this node was cut off from NATS.
    await platform.db.orm.em
      .getConnection()
      .execute(`update "users" set "disabled" = true where "id" = ?`, [victim.user.id]);
    t.is((await me()).status, 200, "within AUTH_STATE_CACHE_TTL_S, the cached state answers");
    // What Moleculer's transit announces once a lost connection is back.
    await platform.broker.broadcastLocal("$transporter.connected", { wasReconnect: true });
    t.is((await me()).status, 401);
  },
);

test.serial(
  "disabling a user stops their existing access token at once and refuses their logins",
  async (t) => {
    const { learner, loginAdmin, request } = api();
    const victim = await learner();
    const admin = await loginAdmin();
    // Warm the API's cache of the user's state, so that the test proves the cache is dropped.
    t.is((await request("GET", "/api/v1/me", { token: victim.tokens.accessToken })).status, 200);

    const disabled = await request<PublicUser>("PATCH", `/api/v1/users/${victim.user.id}`, {
      token: admin.accessToken,
      body: { disabled: true },
    });
    t.is(disabled.status, 200);
    t.true(disabled.body.disabled);

    const me = await request("GET", "/api/v1/me", { token: victim.tokens.accessToken });
    t.is(me.status, 401);
    const login = await request("POST", "/api/v1/auth/login", {
      body: { email: victim.email, password: victim.password },
    });
    t.is(login.status, 403);
    const refresh = await request("POST", "/api/v1/auth/refresh", {
      body: { refreshToken: victim.tokens.refreshToken },
    });
    t.is(refresh.status, 401);

    await request("PATCH", `/api/v1/users/${victim.user.id}`, {
      token: admin.accessToken,
      body: { disabled: false },
    });
    t.is((await request("GET", "/api/v1/me", { token: victim.tokens.accessToken })).status, 200);
  },
);

test.serial(
  "a role change applies to existing tokens: the current role decides, not the token's",
  async (t) => {
    const { learner, loginAdmin, request } = api();
    const user = await learner();
    const admin = await loginAdmin();
    t.is((await request("GET", "/api/v1/users", { token: user.tokens.accessToken })).status, 403);
    const promoted = await request<PublicUser>("PATCH", `/api/v1/users/${user.user.id}`, {
      token: admin.accessToken,
      body: { role: "admin", name: "Promoted" },
    });
    t.is(promoted.body.role, "admin");
    t.is(promoted.body.name, "Promoted");
    t.is((await request("GET", "/api/v1/users", { token: user.tokens.accessToken })).status, 200);
    await request("PATCH", `/api/v1/users/${user.user.id}`, {
      token: admin.accessToken,
      body: { role: "learner" },
    });
    t.is((await request("GET", "/api/v1/users", { token: user.tokens.accessToken })).status, 403);
  },
);

test.serial("the last active admin cannot demote or disable themselves (409)", async (t) => {
  const { loginAdmin, request } = api();
  const admin = await loginAdmin();
  const me = await request<PublicUser>("GET", "/api/v1/me", { token: admin.accessToken });
  const demote = await request("PATCH", `/api/v1/users/${me.body.id}`, {
    token: admin.accessToken,
    body: { role: "learner" },
  });
  t.is(demote.status, 409);
  const disable = await request("PATCH", `/api/v1/users/${me.body.id}`, {
    token: admin.accessToken,
    body: { disabled: true },
  });
  t.is(disable.status, 409);
});

test("a PATCH with no change, an unknown field or a bad role is a 422", async (t) => {
  const { learner, loginAdmin, request } = api();
  const user = await learner();
  const admin = await loginAdmin();
  for (const body of [{}, { email: "x@example.org" }, { role: "emperor" }]) {
    const res = await request("PATCH", `/api/v1/users/${user.user.id}`, { token: admin.accessToken, body });
    t.is(res.status, 422, JSON.stringify(body));
  }
});

test("patching an unknown user is a 404", async (t) => {
  const admin = await api().loginAdmin();
  const res = await api().request("PATCH", "/api/v1/users/00000000-0000-4000-8000-000000000000", {
    token: admin.accessToken,
    body: { name: "Nobody" },
  });
  t.is(res.status, 404);
});

test("GET /me shows an admin's change to the account on the very next request", async (t) => {
  const { learner, loginAdmin, request } = api();
  const user = await learner();
  const admin = await loginAdmin();
  const before = await request<PublicUser>("GET", "/api/v1/me", { token: user.tokens.accessToken });
  t.is(before.body.role, "learner");
  await request("PATCH", `/api/v1/users/${user.user.id}`, {
    token: admin.accessToken,
    body: { name: "Renamed", role: "researcher" },
  });
  const after = await request<PublicUser>("GET", "/api/v1/me", { token: user.tokens.accessToken });
  t.is(after.body.name, "Renamed");
  t.is(after.body.role, "researcher");
});
