import { Migration } from "@mikro-orm/migrations";

export class Migration20261125203500_ws_tickets extends Migration {
  override name = "Migration20261125203500_ws_tickets";

  override up(): void {
    this.addSql(
      `create table "ws_tickets" ("token_hash" text not null, "user_id" uuid not null, "expires_at" timestamptz not null, "session_expires_at" timestamptz not null, "created_at" timestamptz not null, primary key ("token_hash"));`,
    );
    this.addSql(`create index "ws_tickets_user_id_index" on "ws_tickets" ("user_id");`);
    this.addSql(`create index "ws_tickets_expires_at_index" on "ws_tickets" ("expires_at");`);

    this.addSql(
      `alter table "ws_tickets" add constraint "ws_tickets_user_id_foreign" foreign key ("user_id") references "users" ("id") on delete cascade;`,
    );
  }

  override down(): void {
    this.addSql(`drop table if exists "ws_tickets" cascade;`);
  }
}
