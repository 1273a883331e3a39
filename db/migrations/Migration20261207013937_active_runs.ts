import { Migration } from "@mikro-orm/migrations";

export class Migration20261207013937_active_runs extends Migration {
  override name = "Migration20261207013937_active_runs";

  override up(): void {
    this.addSql(
      `create index "runs_active_status_index" on "runs" ("status") where "status" in ('queued', 'running', 'stopping');`,
    );
  }

  override down(): void {
    this.addSql(`drop index "runs_active_status_index";`);
  }
}
