import { Migration } from "@mikro-orm/migrations";

export class Migration20261206223608_fair_share extends Migration {
  override name = "Migration20261206223608_fair_share";

  override up(): void {
    this.addSql(
      `create table "schedulers" ("id" uuid not null, "pool" text not null, "status" text not null default 'active', "owner_node" text null, "lease_until" timestamptz null, "lease_epoch" int not null default 0, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(`alter table "schedulers" add constraint "schedulers_pool_unique" unique ("pool");`);

    // Generated, then the data the new columns need on a database that has runs (and the two
    // schedulers' rows): queued_at is filled before it becomes not null, and the runs active before
    // fair share existed hold their slots as granted, so the scheduler counts them.
    this.addSql(
      `alter table "runs" add "queued_at" timestamptz null, add "granted_at" timestamptz null, add "queue" jsonb null;`,
    );
    this.addSql(
      `update "runs" set "queued_at" = case when "status" = 'queued' then "updated_at" else "created_at" end;`,
    );
    this.addSql(
      `alter table "runs" alter column "queued_at" set default now(), alter column "queued_at" set not null;`,
    );
    this.addSql(
      `update "runs" set "granted_at" = coalesce("started_at", now()) where "status" in ('running', 'stopping');`,
    );
    this.addSql(
      `insert into "schedulers" ("id", "pool", "updated_at") values (gen_random_uuid(), 'cpu', now()), (gen_random_uuid(), 'gpu', now());`,
    );

    this.addSql(
      `alter table "schedulers" add constraint "schedulers_pool_check" check ("pool" in ('cpu', 'gpu'));`,
    );
  }

  override down(): void {
    this.addSql(`drop table if exists "schedulers" cascade;`);

    this.addSql(`alter table "runs" drop column "queued_at", drop column "granted_at", drop column "queue";`);
  }
}
