import test from "ava";
import pg from "pg";
import { type PublicMetricPoint, RUN_TAGS_MAX } from "../../contracts/runs.ts";
import { useTestPlatform } from "../helpers/platform.ts";
import { accountWithRole, launch, metrics, RUN_SERVICES, tinyRun, waitForStatus } from "./helpers.ts";

const api = useTestPlatform(test, { ...RUN_SERVICES, WORKER_SLOTS: "2" });

/** RFC 4180 as the export writes it: CRLF records, fields quoted when they hold `,` `"` or a line break. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\r" && text[i + 1] === "\n") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
      i++;
    } else field += c;
  }
  return rows;
}

/** What the export should hold: the JSON history's points with every key (sorted), missing ones null. */
function expectedRows(points: readonly PublicMetricPoint[]) {
  const keys = [...new Set(points.flatMap((p) => Object.keys(p.metrics)))].sort();
  return {
    keys,
    rows: points.map((p) => ({
      iteration: p.iteration,
      global_step: p.globalStep,
      wall_time: p.wallTime,
      ...Object.fromEntries(keys.map((k) => [k, p.metrics[k] ?? null])),
    })),
  };
}

function csvRecords(text: string) {
  const [header, ...rows] = parseCsv(text);
  return {
    header: header!,
    rows: rows.map((r) =>
      Object.fromEntries(
        header!.map((h, i) => {
          const v = r[i]!;
          if (h === "wall_time") return [h, v];
          return [h, v === "" ? null : Number(v)];
        }),
      ),
    ),
  };
}

test("a run's metrics export as CSV and JSON Lines equal to the JSON history point for point, across pages", async (t) => {
  const me = await accountWithRole(api(), "learner");
  const run = await launch(api(), me.token, tinyRun(3));
  await waitForStatus(api(), me.token, run.id, ["completed"]);

  // A long run's history (3 pages of the export), written as the runs store writes points; a key
  // some points lack, a null (a non-finite value) and a key that needs quoting.
  const db = new pg.Client({ connectionString: api().database.url });
  await db.connect();
  try {
    await db.query(
      `insert into "metric_points" ("id", "run_id", "iteration", "global_step", "wall_time", "metrics")
       select gen_random_uuid(), $1, i, i * 128, now() + i * interval '1 ms',
         jsonb_build_object('charts/episodic_return', i / 7.0, 'losses/value_loss', case when i % 5 = 0 then null else 1.0 / i end)
           || case when i % 3 = 0 then jsonb_build_object('custom/with,comma', i * 0.1) else '{}'::jsonb end
       from generate_series(4, 2503) as i`,
      [run.id],
    );
  } finally {
    await db.end();
  }

  const points = await metrics(api(), me.token, run.id);
  t.is(points.length, 2503);
  const expected = expectedRows(points);
  t.true(expected.keys.includes("custom/with,comma"));

  const csv = await api().authedFetch(me.token, `/api/v1/runs/${run.id}/metrics.csv`);
  t.is(csv.status, 200);
  t.regex(csv.headers.get("content-type") ?? "", /^text\/csv/);
  t.regex(csv.headers.get("content-disposition") ?? "", /attachment; filename="run-.*-metrics\.csv"/);
  const parsed = csvRecords(await csv.text());
  t.deepEqual(parsed.header, ["iteration", "global_step", "wall_time", ...expected.keys]);
  t.deepEqual(parsed.rows, expected.rows);

  const jsonl = await api().authedFetch(me.token, `/api/v1/runs/${run.id}/metrics.jsonl`);
  t.is(jsonl.status, 200);
  t.regex(jsonl.headers.get("content-type") ?? "", /^application\/jsonl/);
  const lines = (await jsonl.text()).split("\n");
  t.is(lines.pop(), "", "every line ends with a newline");
  const objects = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  t.deepEqual(objects, expected.rows);
  t.deepEqual(Object.keys(objects[0]!), ["iteration", "global_step", "wall_time", ...expected.keys]);
});

test("the export has the metrics history's access rules: another user's run and an unknown one are 404", async (t) => {
  const owner = await accountWithRole(api(), "learner");
  const other = await accountWithRole(api(), "learner");
  const run = await launch(api(), owner.token, tinyRun(1));
  for (const path of ["metrics.csv", "metrics.jsonl"]) {
    const theirs = await api().request<{ status: number }>("GET", `/api/v1/runs/${run.id}/${path}`, {
      token: other.token,
    });
    t.is(theirs.status, 404, path);
    t.regex(theirs.headers.get("content-type") ?? "", /application\/problem\+json/);
    const unknown = await api().request("GET", `/api/v1/runs/00000000-0000-4000-8000-000000000000/${path}`, {
      token: owner.token,
    });
    t.is(unknown.status, 404);
    t.is((await api().request("GET", `/api/v1/runs/${run.id}/${path}`)).status, 401);
  }
  // An admin may, as with the history; a run with no point yet has the header alone.
  const admin = (await api().loginAdmin()).accessToken;
  const fresh = await launch(api(), owner.token, tinyRun(1000));
  await api().request("POST", `/api/v1/runs/${fresh.id}/stop`, { token: owner.token });
  const stopped = await waitForStatus(api(), owner.token, fresh.id, ["stopped"]);
  const csv = await api().authedFetch(admin, `/api/v1/runs/${fresh.id}/metrics.csv`);
  t.is(csv.status, 200);
  const text = await csv.text();
  if (stopped.iteration === 0) t.is(text, "iteration,global_step,wall_time\r\n");
  else t.is(text.trim().split("\r\n").length, stopped.iteration + 1);
});

test("the OpenAPI document gives the exports' media types and the metadata's limits", async (t) => {
  type Doc = { paths: Record<string, Record<string, Record<string, unknown>>> };
  const doc = (await api().request<Doc>("GET", "/api/v1/openapi.json")).body;
  const ok = (path: string) =>
    (doc.paths[path]!["get"]!["responses"] as Record<string, { content?: Record<string, unknown> }>)["200"];
  t.deepEqual(Object.keys(ok("/api/v1/runs/{id}/metrics.csv")?.content ?? {}), ["text/csv"]);
  t.deepEqual(Object.keys(ok("/api/v1/runs/{id}/metrics.jsonl")?.content ?? {}), ["application/jsonl"]);
  const patch = doc.paths["/api/v1/runs/{id}"]?.["patch"] as {
    requestBody: { content: { "application/json": { schema: { properties: Record<string, unknown> } } } };
  };
  t.like(patch.requestBody.content["application/json"].schema.properties["tags"], { maxItems: RUN_TAGS_MAX });
  const docs = await api().request<string>("GET", "/api/v1/docs");
  t.is(docs.status, 200);
  t.true(docs.body.includes("exportRunMetricsCsv"));
});
