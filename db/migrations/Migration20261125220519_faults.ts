import { Migration } from "@mikro-orm/migrations";

export class Migration20261125220519_faults extends Migration {
  override name = "Migration20261125220519_faults";

  override up(): void {
    this.addSql(
      `create table "idempotency_keys" ("id" uuid not null, "user_id" uuid not null, "key" text not null, "request_hash" text not null, "run_id" uuid null, "created_at" timestamptz not null, "expires_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(`create index "idempotency_keys_expires_at_index" on "idempotency_keys" ("expires_at");`);
    this.addSql(
      `alter table "idempotency_keys" add constraint "idempotency_keys_user_id_key_unique" unique ("user_id", "key");`,
    );

    this.addSql(
      `alter table "runs" add "lease_epoch" int not null default 0, add "runners_active" int not null default 0;`,
    );

    this.addSql(
      `alter table "idempotency_keys" add constraint "idempotency_keys_user_id_foreign" foreign key ("user_id") references "users" ("id") on delete cascade;`,
    );
  }

  override down(): void {
    this.addSql(`drop table if exists "idempotency_keys" cascade;`);

    this.addSql(`alter table "runs" drop column "lease_epoch", drop column "runners_active";`);
  }
}
