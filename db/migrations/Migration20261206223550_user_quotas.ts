import { Migration } from "@mikro-orm/migrations";

export class Migration20261206223550_user_quotas extends Migration {
  override name = "Migration20261206223550_user_quotas";

  override up(): void {
    this.addSql(
      `create table "user_quotas" ("user_id" uuid not null, "limits" jsonb not null, "updated_by_id" uuid null, "updated_at" timestamptz not null, primary key ("user_id"));`,
    );

    this.addSql(
      `alter table "user_quotas" add constraint "user_quotas_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "user_quotas" add constraint "user_quotas_updated_by_id_foreign" foreign key ("updated_by_id") references "users" ("id") on delete set null;`,
    );
  }

  override down(): void {
    this.addSql(`drop table if exists "user_quotas" cascade;`);
  }
}
