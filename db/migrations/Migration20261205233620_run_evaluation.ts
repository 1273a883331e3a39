import { Migration } from "@mikro-orm/migrations";

export class Migration20261205233620_run_evaluation extends Migration {
  override name = "Migration20261205233620_run_evaluation";

  override up(): void {
    this.addSql(`alter table "runs" add "evaluation" jsonb null;`);
  }

  override down(): void {
    this.addSql(`alter table "runs" drop column "evaluation";`);
  }
}
