import { Migration } from "@mikro-orm/migrations";

export class Migration20261206223518_run_metadata extends Migration {
  override name = "Migration20261206223518_run_metadata";

  override up(): void {
    this.addSql(
      `alter table "runs" add "name" text null, add "tags" text[] not null default '{}', add "notes" text null, add "sweep_id" uuid null, add "trial_index" int null;`,
    );
  }

  override down(): void {
    this.addSql(
      `alter table "runs" drop column "name", drop column "tags", drop column "notes", drop column "sweep_id", drop column "trial_index";`,
    );
  }
}
