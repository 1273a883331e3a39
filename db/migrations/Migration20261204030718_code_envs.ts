import { Migration } from "@mikro-orm/migrations";

export class Migration20261204030718_code_envs extends Migration {
  override name = "Migration20261204030718_code_envs";

  override up(): void {
    this.addSql(`alter table "submissions" add "env_spec" jsonb null;`);
  }

  override down(): void {
    this.addSql(`alter table "submissions" drop column "env_spec";`);
  }
}
