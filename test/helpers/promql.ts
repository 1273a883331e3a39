/**
 * The metric names a PromQL expression reads, for checking dashboards and alert rules against what
 * the code exports. Enough of PromQL for those queries: label matchers, ranges and subqueries,
 * strings and the label lists of `by`/`without`/`on`/`ignoring`/`group_*` are dropped, and of the
 * identifiers left, those called (functions, aggregations) and the operators' keywords are not names.
 */
const KEYWORDS = new Set([
  "and",
  "or",
  "unless",
  "bool",
  "offset",
  "inf",
  "nan",
  "by",
  "without",
  "on",
  "ignoring",
]);

export function metricNamesOf(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\{[^}]*\}/g, "")
    .replace(/\[[^\]]*\]/g, "")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "");
  const names = new Set<string>();
  for (const match of bare.matchAll(/(?<![A-Za-z0-9_.$])[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const word = match[0];
    const called = bare
      .slice(match.index + word.length)
      .trimStart()
      .startsWith("(");
    if (!called && !KEYWORDS.has(word.toLowerCase())) names.add(word);
  }
  return [...names];
}

/**
 * The series names a Prometheus text exposition offers to queries: a counter's or gauge's own name,
 * a histogram's _bucket, _sum and _count (never its bare name), a summary's name, _sum and _count.
 */
export function queryableNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const line of exposition.split("\n")) {
    const typed = /^# TYPE (\S+) (\S+)/.exec(line);
    if (typed) {
      const [, name, type] = typed as unknown as [string, string, string];
      if (type === "histogram") for (const suffix of ["_bucket", "_sum", "_count"]) names.add(name + suffix);
      else if (type === "summary") for (const suffix of ["", "_sum", "_count"]) names.add(name + suffix);
      else names.add(name);
      continue;
    }
    const sample = /^([A-Za-z_:][A-Za-z0-9_:]*)[{ ]/.exec(line);
    if (sample) names.add(sample[1]!);
  }
  return names;
}
