import { Migration } from "@mikro-orm/migrations";

export class Migration20261125202714_runs extends Migration {
  override name = "Migration20261125202714_runs";

  override up(): void {
    this.addSql(
      `create table "runs" ("id" uuid not null, "owner_id" uuid not null, "env_id" text not null, "preset" text null, "config" jsonb not null, "seed" bigint not null, "total_steps" bigint not null, "resources" jsonb not null, "status" text not null default 'queued', "iteration" int not null default 0, "global_step" bigint not null default '0', "failure_reason" text null, "owner_node" text null, "lease_until" timestamptz null, "version" int not null default 1, "created_at" timestamptz not null, "updated_at" timestamptz not null, "started_at" timestamptz null, "finished_at" timestamptz null, primary key ("id"));`,
    );
    this.addSql(`create index "runs_owner_id_created_at_index" on "runs" ("owner_id", "created_at");`);
    this.addSql(`create index "runs_owner_node_status_index" on "runs" ("owner_node", "status");`);

    this.addSql(
      `create table "metric_points" ("id" uuid not null, "run_id" uuid not null, "iteration" int not null, "global_step" bigint not null, "wall_time" timestamptz not null, "metrics" jsonb not null, primary key ("id"));`,
    );
    this.addSql(
      `alter table "metric_points" add constraint "metric_points_run_id_iteration_unique" unique ("run_id", "iteration");`,
    );

    this.addSql(
      `create table "checkpoints" ("id" uuid not null, "run_id" uuid not null, "iteration" int not null, "global_step" bigint not null, "bytes" bytea not null, "runner_states" jsonb not null, "created_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `alter table "checkpoints" add constraint "checkpoints_run_id_iteration_unique" unique ("run_id", "iteration");`,
    );

    this.addSql(
      `alter table "runs" add constraint "runs_owner_id_foreign" foreign key ("owner_id") references "users" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "runs" add constraint "runs_status_check" check ("status" in ('queued', 'running', 'stopping', 'stopped', 'completed', 'failed'));`,
    );

    this.addSql(
      `alter table "metric_points" add constraint "metric_points_run_id_foreign" foreign key ("run_id") references "runs" ("id") on delete cascade;`,
    );

    this.addSql(
      `alter table "checkpoints" add constraint "checkpoints_run_id_foreign" foreign key ("run_id") references "runs" ("id") on delete cascade;`,
    );
  }

  override down(): void {
    this.addSql(`alter table "metric_points" drop constraint "metric_points_run_id_foreign";`);
    this.addSql(`alter table "checkpoints" drop constraint "checkpoints_run_id_foreign";`);

    this.addSql(`drop table if exists "runs" cascade;`);
    this.addSql(`drop table if exists "metric_points" cascade;`);
    this.addSql(`drop table if exists "checkpoints" cascade;`);
  }
}
