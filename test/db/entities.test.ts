import { randomUUID } from "node:crypto";
import { type EntityManager, UniqueConstraintViolationException } from "@mikro-orm/postgresql";
import test from "ava";
import { ROLES } from "../../contracts/roles.ts";
import { normalizeEmail, RefreshToken, User } from "../../db/entities/index.ts";
import { type Database, openDatabase } from "../../db/index.ts";
import { createTestDatabase } from "../helpers/db.ts";
import { waitUntil } from "../helpers/wait.ts";

let db: Database;

test.before(async (t) => {
  const target = await createTestDatabase();
  t.context = target;
  db = await openDatabase({
    DATABASE_URL: target.url,
    PROXIMA_DATA_DIR: ".data",
    EMBEDDED_PG_PORT: 54329,
    LOG_LEVEL: "info",
  });
});

test.after.always(async (t) => {
  await db?.close();
  await (t.context as { drop?: () => Promise<void> }).drop?.();
});

function newUser(em: EntityManager, email: string, name = "Ada"): User {
  return em.create(User, { email, name, passwordHash: "argon2id$not-a-real-hash" });
}

function newToken(em: EntityManager, user: User): RefreshToken {
  return em.create(RefreshToken, {
    user,
    tokenHash: randomUUID().replaceAll("-", ""),
    familyId: randomUUID(),
    expiresAt: new Date(Date.now() + 3_600_000),
  });
}

test("normalizeEmail trims and lower-cases", (t) => {
  t.is(normalizeEmail("  Ada.Lovelace@Example.COM \n"), "ada.lovelace@example.com");
});

test("emails are unique whatever their case", async (t) => {
  const em = db.orm.em.fork();
  newUser(em, normalizeEmail("A@x.io"));
  await em.flush();

  const other = db.orm.em.fork();
  newUser(other, normalizeEmail("a@x.io"), "Other");
  await t.throwsAsync(other.flush(), { instanceOf: UniqueConstraintViolationException });
});

test("the email column stores and looks up the normalised form", async (t) => {
  const em = db.orm.em.fork();
  const user = newUser(em, "  Grace@Example.ORG ");
  await em.flush();

  const [row] = await em
    .getConnection()
    .execute<{ email: string }[]>("select email from users where id = ?", [user.id]);
  t.is(row?.email, "grace@example.org");
  const found = await db.orm.em.fork().findOne(User, { email: "GRACE@example.org" });
  t.is(found?.id, user.id);
});

test("the database itself refuses an email that is not normalised", async (t) => {
  const em = db.orm.em.fork();
  await t.throwsAsync(
    em
      .getConnection()
      .execute(
        "insert into users (id, email, name, role, password_hash, disabled, created_at, updated_at) values (?, ?, 'X', 'learner', 'h', false, now(), now())",
        [randomUUID(), "Mixed@Case.io"],
      ),
    // 23514 check_violation (raw SQL bypasses the ORM's exception mapping)
    { code: "23514", message: /users_email_normalized_check/ },
  );
});

test("a new user is an enabled learner with an app-generated id and timestamps; updatedAt moves on update", async (t) => {
  const em = db.orm.em.fork();
  const user = newUser(em, "new@x.io");
  await em.flush();
  t.regex(user.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  t.is(user.role, "learner");
  t.false(user.disabled);
  t.true(user.createdAt instanceof Date);

  const reloaded = await db.orm.em.fork().findOneOrFail(User, user.id);
  t.is(reloaded.role, "learner");
  const before = reloaded.updatedAt.getTime();
  // updatedAt comes from the clock: the update must happen in a later millisecond to be told apart.
  await waitUntil(() => Date.now() > before, "the clock to pass the first updatedAt");
  reloaded.role = "researcher";
  await db.orm.em.fork().persist(reloaded).flush();
  const after = await db.orm.em.fork().findOneOrFail(User, user.id);
  t.is(after.role, "researcher");
  t.true(after.updatedAt.getTime() > before);
  t.is(after.createdAt.getTime(), user.createdAt.getTime());
});

test("roles are limited to the declared ones", async (t) => {
  t.deepEqual([...ROLES], ["learner", "researcher", "admin"]);
  const em = db.orm.em.fork();
  await t.throwsAsync(
    em
      .getConnection()
      .execute(
        "insert into users (id, email, name, role, password_hash, disabled, created_at, updated_at) values (?, ?, 'X', 'root', 'h', false, now(), now())",
        [randomUUID(), "role@x.io"],
      ),
    { code: "23514", message: /users_role_check/ },
  );
});

test("the password hash never appears in a serialised user", async (t) => {
  const em = db.orm.em.fork();
  const user = newUser(em, "hidden@x.io");
  await em.flush();
  t.false("passwordHash" in JSON.parse(JSON.stringify(user)));
});

test("deleting a user deletes their refresh tokens in the database", async (t) => {
  const em = db.orm.em.fork();
  const user = newUser(em, "cascade@x.io");
  const keep = newUser(em, "keep@x.io");
  newToken(em, user);
  newToken(em, user);
  newToken(em, keep);
  await em.flush();
  t.is(await db.orm.em.fork().count(RefreshToken, { user: user.id }), 2);

  // A plain SQL delete: the cascade is the database's, not the ORM's.
  await db.orm.em.fork().getConnection().execute("delete from users where id = ?", [user.id]);
  const check = db.orm.em.fork();
  t.is(await check.count(RefreshToken, { user: user.id }), 0);
  t.is(await check.count(RefreshToken, { user: keep.id }), 1);
});

test("refresh token hashes are unique, and rotation fields start empty", async (t) => {
  const em = db.orm.em.fork();
  const user = newUser(em, "tokens@x.io");
  const token = newToken(em, user);
  await em.flush();
  t.is(token.usedAt, undefined);
  const loaded = await db.orm.em.fork().findOneOrFail(RefreshToken, token.id);
  t.is(loaded.usedAt, null);
  t.is(loaded.revokedAt, null);

  const dup = db.orm.em.fork();
  dup.create(RefreshToken, {
    user: user.id,
    tokenHash: token.tokenHash,
    familyId: randomUUID(),
    expiresAt: new Date(),
  });
  await t.throwsAsync(dup.flush(), { instanceOf: UniqueConstraintViolationException });
});
