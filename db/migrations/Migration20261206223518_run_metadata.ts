import { Migration } from "@mikro-orm/migrations";

export class Migration20261206223518_run_metadata extends Migration {
  override name = "Migration20261206223518_run_metadata";

  override up(): void {
    this.addSql(
      `alter table "runs" add "name" text null, add "tags" text[] not null default '{}', add "notes" text null, add "sweep_id" uuid null, add "trial_index" int null;`,
    );
    // Data, not schema (added by hand to the generated statement): the trials' runs created before
    // this migration get their sweep and name as new ones do (contracts/run-metadata.ts
    // trialRunName, RUN_NAME_MAX 120), so that they leave the runs list too.
    this.addSql(
      `update "runs" as r set "sweep_id" = t."sweep_id", "trial_index" = t."index",
         "name" = left(s."name", 120 - length(' #' || t."index")) || ' #' || t."index"
       from "sweep_trials" as t join "sweeps" as s on s."id" = t."sweep_id"
       where t."run_id" = r."id";`,
    );
  }

  override down(): void {
    this.addSql(
      `alter table "runs" drop column "name", drop column "tags", drop column "notes", drop column "sweep_id", drop column "trial_index";`,
    );
  }
}
