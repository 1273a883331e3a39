import { Migration } from "@mikro-orm/migrations";

export class Migration20261125220759_submissions extends Migration {
  override name = "Migration20261125220759_submissions";

  override up(): void {
    this.addSql(
      `create table "submissions" ("id" uuid not null, "user_id" uuid not null, "exercise_id" text not null, "exercise_version" int not null, "code" text not null, "code_hash" text not null, "status" text not null default 'queued', "score" real not null default 0, "max_score" int not null, "tests" jsonb not null, "console" text not null default '', "console_truncated" boolean not null default false, "error" text null, "runtime_ms" real null, "cpu_time_ms" real null, "memory_bytes" bigint null, "owner_node" text null, "created_at" timestamptz not null, "started_at" timestamptz null, "finished_at" timestamptz null, primary key ("id"));`,
    );
    this.addSql(
      `create index "submissions_user_id_exercise_id_created_at_index" on "submissions" ("user_id", "exercise_id", "created_at");`,
    );
    this.addSql(
      `create index "submissions_status_owner_node_index" on "submissions" ("status", "owner_node");`,
    );

    this.addSql(
      `create table "exercise_progress" ("id" uuid not null, "user_id" uuid not null, "exercise_id" text not null, "attempts" int not null default 0, "best_score" real not null default 0, "max_score" int not null, "passed" boolean not null default false, "best_submission_id" uuid null, "first_passed_at" timestamptz null, "last_submission_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `alter table "exercise_progress" add constraint "exercise_progress_user_id_exercise_id_unique" unique ("user_id", "exercise_id");`,
    );

    this.addSql(
      `alter table "submissions" add constraint "submissions_user_id_foreign" foreign key ("user_id") references "users" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "submissions" add constraint "submissions_status_check" check ("status" in ('queued', 'running', 'passed', 'failed', 'error'));`,
    );

    this.addSql(
      `alter table "exercise_progress" add constraint "exercise_progress_user_id_foreign" foreign key ("user_id") references "users" ("id") on delete cascade;`,
    );
  }

  override down(): void {
    this.addSql(`drop table if exists "submissions" cascade;`);
    this.addSql(`drop table if exists "exercise_progress" cascade;`);
  }
}
