import { readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:net";

/** A TCP port free on loopback right now (the OS picks it), for a server a benchmark spawns. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

/**
 * Replaces the results block marked `<!-- <tag>:begin -->` … `<!-- <tag>:end -->` in bench/README.md
 * with `section` (appended under `heading` when the markers are missing), so that reruns keep one table.
 */
export async function writeReadmeSection(tag: string, heading: string, section: string): Promise<void> {
  const file = new URL("./README.md", import.meta.url);
  const text = await readFile(file, "utf8").catch(() => "# Benchmarks\n");
  const begin = `<!-- ${tag}:begin -->`;
  const end = `<!-- ${tag}:end -->`;
  const block = `${begin}\n${section}\n${end}`;
  const i = text.indexOf(begin);
  const j = text.indexOf(end);
  const next =
    i >= 0 && j > i
      ? text.slice(0, i) + block + text.slice(j + end.length)
      : `${text.trimEnd()}\n\n## ${heading}\n\n${block}\n`;
  await writeFile(file, next);
}
