import { TSMigrationGenerator } from "@mikro-orm/migrations";

/** biome.json's formatter.lineWidth. */
const LINE_WIDTH = 110;

/**
 * MikroORM's TypeScript migration generator, writing the house style (double quotes, no blank line
 * at the edges of a block) so that generated migrations pass `biome check` untouched: migrations are
 * generated and checked in, never edited by hand.
 */
export class HouseStyleMigrationGenerator extends TSMigrationGenerator {
  override generateMigrationFile(className: string, diff: { up: string[]; down: string[] }): string {
    const lines = [
      `import { Migration } from "@mikro-orm/migrations";`,
      "",
      `export class ${className} extends Migration {`,
      `  override name = "${className}";`,
      "",
      "  override up(): void {",
      ...this.body(diff.up),
      "  }",
    ];
    if (diff.down.length > 0) {
      lines.push("", "  override down(): void {", ...this.body(diff.down), "  }");
    }
    lines.push("}", "");
    return lines.join("\n");
  }

  /** One `addSql` per statement; empty statements (the differ's grouping marks) become single blank lines. */
  private body(statements: string[]): string[] {
    const out: string[] = [];
    for (const sql of statements) {
      if (sql.length === 0) {
        if (out.length > 0 && out[out.length - 1] !== "") out.push("");
        continue;
      }
      const literal = `\`${sql.replace(/[`$\\]/g, "\\$&")}\``;
      const oneLine = `    this.addSql(${literal});`;
      // Biome's layout for a call that does not fit the line: the argument on its own line.
      if (oneLine.length <= LINE_WIDTH) out.push(oneLine);
      else out.push("    this.addSql(", `      ${literal},`, "    );");
    }
    while (out[out.length - 1] === "") out.pop();
    return out;
  }
}
