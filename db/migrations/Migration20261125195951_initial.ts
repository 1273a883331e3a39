import { Migration } from "@mikro-orm/migrations";

export class Migration20261125195951_initial extends Migration {
  override name = "Migration20261125195951_initial";

  override up(): void {
    this.addSql(
      `create table "users" ("id" uuid not null, "email" text not null, "name" text not null, "role" text not null default 'learner', "password_hash" text not null, "disabled" boolean not null default false, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(`alter table "users" add constraint "users_email_unique" unique ("email");`);

    this.addSql(
      `create table "refresh_tokens" ("id" uuid not null, "user_id" uuid not null, "token_hash" text not null, "family_id" uuid not null, "expires_at" timestamptz not null, "created_at" timestamptz not null, "used_at" timestamptz null, "revoked_at" timestamptz null, primary key ("id"));`,
    );
    this.addSql(`create index "refresh_tokens_user_id_index" on "refresh_tokens" ("user_id");`);
    this.addSql(
      `alter table "refresh_tokens" add constraint "refresh_tokens_token_hash_unique" unique ("token_hash");`,
    );
    this.addSql(`create index "refresh_tokens_family_id_index" on "refresh_tokens" ("family_id");`);

    this.addSql(
      `alter table "users" add constraint "users_email_normalized_check" check (email = lower(btrim(email)));`,
    );
    this.addSql(
      `alter table "users" add constraint "users_role_check" check ("role" in ('learner', 'researcher', 'admin'));`,
    );

    this.addSql(
      `alter table "refresh_tokens" add constraint "refresh_tokens_user_id_foreign" foreign key ("user_id") references "users" ("id") on delete cascade;`,
    );
  }

  override down(): void {
    this.addSql(`alter table "refresh_tokens" drop constraint "refresh_tokens_user_id_foreign";`);

    this.addSql(`drop table if exists "users" cascade;`);
    this.addSql(`drop table if exists "refresh_tokens" cascade;`);
  }
}
