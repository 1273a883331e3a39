import { Migration } from "@mikro-orm/migrations";

export class Migration20261125220747_sweeps extends Migration {
  override name = "Migration20261125220747_sweeps";

  override up(): void {
    this.addSql(
      `create table "sweeps" ("id" uuid not null, "owner_id" uuid not null, "name" text not null, "env_id" text not null, "method" text not null, "definition" jsonb not null, "status" text not null default 'running', "best_trial_id" uuid null, "best_metric" double precision null, "failure_reason" text null, "owner_node" text null, "lease_until" timestamptz null, "lease_epoch" int not null default 0, "created_at" timestamptz not null, "updated_at" timestamptz not null, "finished_at" timestamptz null, primary key ("id"));`,
    );
    this.addSql(`create index "sweeps_owner_id_created_at_index" on "sweeps" ("owner_id", "created_at");`);
    this.addSql(`create index "sweeps_status_lease_until_index" on "sweeps" ("status", "lease_until");`);

    this.addSql(
      `create table "sweep_trials" ("id" uuid not null, "sweep_id" uuid not null, "index" int not null, "params" jsonb not null, "seed" bigint not null, "total_steps" bigint not null, "run_id" uuid not null, "status" text not null default 'pending', "rungs" jsonb not null, "pruned_rung" bigint null, "pruned_value" double precision null, "pruned_cutoff" double precision null, "last_metric" double precision null, "final_metric" double precision null, "steps" bigint not null default '0', "iteration" int not null default 0, "member" int null, "generation" int null, "lineage" jsonb null, "failure_reason" text null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "started_at" timestamptz null, "finished_at" timestamptz null, primary key ("id"));`,
    );
    this.addSql(
      `alter table "sweep_trials" add constraint "sweep_trials_sweep_id_index_unique" unique ("sweep_id", "index");`,
    );
    this.addSql(`alter table "sweep_trials" add constraint "sweep_trials_run_id_unique" unique ("run_id");`);

    this.addSql(
      `alter table "sweeps" add constraint "sweeps_owner_id_foreign" foreign key ("owner_id") references "users" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "sweeps" add constraint "sweeps_status_check" check ("status" in ('running', 'stopping', 'stopped', 'completed', 'failed'));`,
    );

    this.addSql(
      `alter table "sweep_trials" add constraint "sweep_trials_sweep_id_foreign" foreign key ("sweep_id") references "sweeps" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "sweep_trials" add constraint "sweep_trials_status_check" check ("status" in ('pending', 'running', 'completed', 'pruned', 'stopped', 'failed'));`,
    );
  }

  override down(): void {
    this.addSql(`alter table "sweep_trials" drop constraint "sweep_trials_sweep_id_foreign";`);

    this.addSql(`drop table if exists "sweeps" cascade;`);
    this.addSql(`drop table if exists "sweep_trials" cascade;`);
  }
}
