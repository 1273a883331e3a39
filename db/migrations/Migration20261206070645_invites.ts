import { Migration } from "@mikro-orm/migrations";

export class Migration20261206070645_invites extends Migration {
  override name = "Migration20261206070645_invites";

  override up(): void {
    this.addSql(
      `create table "invites" ("code_hash" text not null, "created_by_id" uuid not null, "created_at" timestamptz not null, "expires_at" timestamptz not null, "used_at" timestamptz null, "used_by_id" uuid null, primary key ("code_hash"));`,
    );
    this.addSql(`create index "invites_created_by_id_index" on "invites" ("created_by_id");`);

    this.addSql(
      `alter table "invites" add constraint "invites_created_by_id_foreign" foreign key ("created_by_id") references "users" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "invites" add constraint "invites_used_by_id_foreign" foreign key ("used_by_id") references "users" ("id") on delete set null;`,
    );
  }

  override down(): void {
    this.addSql(`drop table if exists "invites" cascade;`);
  }
}
