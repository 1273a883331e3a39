import test from "ava";
import { DASHBOARD_CSP } from "../../api/middleware/security-headers.ts";
import { useTestPlatform } from "../helpers/platform.ts";

/** How the API serves the dashboard: caching, CSP, client routes, and the paths it must never shadow. */
const api = useTestPlatform(test);
const HTML = { accept: "text/html,application/xhtml+xml" };

test("/ serves the dashboard page with a strict CSP and no-cache", async (t) => {
  const res = await fetch(`${api().url}/`, { headers: HTML });
  t.is(res.status, 200);
  t.regex(res.headers.get("content-type") ?? "", /^text\/html/);
  t.is(res.headers.get("cache-control"), "no-cache");
  const csp = res.headers.get("content-security-policy") ?? "";
  t.is(csp, DASHBOARD_CSP);
  t.regex(csp, /script-src 'self'(;|$)/);
  t.regex(csp, /style-src 'self'(;|$)/);
  t.notRegex(csp, /unsafe-inline|unsafe-eval/);
  const html = await res.text();
  t.regex(html, /<script type="module" src="\/assets\/main-[A-Z0-9]+\.js"><\/script>/);
  t.notRegex(html, /<script>|<style|style=/, "no inline script or style");
});

test("hashed assets are served with immutable caching; an unknown asset is a 404 problem", async (t) => {
  const html = await (await fetch(`${api().url}/`, { headers: HTML })).text();
  const script = /src="(\/assets\/main-[A-Z0-9]+\.js)"/.exec(html)![1]!;
  const stylesheet = /href="(\/assets\/main-[A-Z0-9]+\.css)"/.exec(html)![1]!;
  const js = await fetch(`${api().url}${script}`);
  t.is(js.status, 200);
  t.regex(js.headers.get("content-type") ?? "", /^text\/javascript/);
  t.is(js.headers.get("cache-control"), "public, max-age=31536000, immutable");
  const css = await fetch(`${api().url}${stylesheet}`);
  t.regex(css.headers.get("content-type") ?? "", /^text\/css/);

  const missing = await fetch(`${api().url}/assets/main-NOPE.js`);
  t.is(missing.status, 404);
  t.regex(missing.headers.get("content-type") ?? "", /problem\+json/);
  const traversal = await fetch(`${api().url}/assets/..%2f..%2fpackage.json`);
  t.is(traversal.status, 404);
});

test("client routes get the page on a reload; non-HTML requests and other methods do not", async (t) => {
  for (const path of ["/runs", "/runs/3f9a3c8e-4c59-4d7a-9d36-0d5c7e0e8a11", "/admin/workers"]) {
    const res = await fetch(`${api().url}${path}`, { headers: HTML });
    t.is(res.status, 200, path);
    t.regex(res.headers.get("content-type") ?? "", /^text\/html/, path);
  }
  const json = await fetch(`${api().url}/runs`, { headers: { accept: "application/json" } });
  t.is(json.status, 404);
  const program = await fetch(`${api().url}/runs`, { headers: { accept: "*/*" } });
  t.is(program.status, 404, "a program's request for an unknown path is not answered with the page");
  const root = await fetch(`${api().url}/`, { headers: { accept: "*/*" } });
  t.is(root.status, 200);
  const post = await fetch(`${api().url}/runs`, { method: "POST", headers: HTML });
  t.is(post.status, 404);
  const favicon = await fetch(`${api().url}/favicon.ico`, { headers: HTML });
  t.is(favicon.status, 404);
});

test("the dashboard never shadows the API, the probes, the metrics or the WebSocket", async (t) => {
  const unknownApi = await fetch(`${api().url}/api/v1/no-such-thing`, { headers: HTML });
  t.is(unknownApi.status, 404);
  t.regex(unknownApi.headers.get("content-type") ?? "", /problem\+json/);
  t.is(unknownApi.headers.get("content-security-policy"), "default-src 'none'; frame-ancestors 'none'");
  const health = await fetch(`${api().url}/healthz`, { headers: HTML });
  t.deepEqual(await health.json(), { status: "ok" });
  const metrics = await fetch(`${api().url}/metrics`, { headers: HTML });
  t.regex(metrics.headers.get("content-type") ?? "", /^text\/plain/);
  const ws = await fetch(`${api().url}/api/v1/ws`, { headers: HTML });
  t.is(ws.status, 426);
  const wsRoot = await fetch(`${api().url}/ws/anything`, { headers: HTML });
  t.is(wsRoot.status, 404);
  const docs = await fetch(`${api().url}/api/v1/docs`, { headers: HTML });
  t.not(docs.headers.get("content-security-policy"), DASHBOARD_CSP);
});

test("scripts go gzipped to clients that accept gzip, and plain to the others", async (t) => {
  const html = await (await fetch(`${api().url}/`, { headers: HTML })).text();
  const script = /src="(\/assets\/main-[A-Z0-9]+\.js)"/.exec(html)![1]!;
  const { request } = await import("node:http");
  const get = (encoding: string) =>
    new Promise<{ headers: Record<string, unknown>; bytes: number }>((resolve, reject) => {
      request(`${api().url}${script}`, { headers: { "accept-encoding": encoding } }, (res) => {
        let bytes = 0;
        res.on("data", (chunk: Buffer) => (bytes += chunk.length));
        res.on("end", () => resolve({ headers: res.headers, bytes }));
      })
        .on("error", reject)
        .end();
    });
  const gz = await get("gzip, br");
  t.is(gz.headers["content-encoding"], "gzip");
  t.regex(String(gz.headers["vary"]), /Accept-Encoding/);
  const plain = await get("identity");
  t.is(plain.headers["content-encoding"], undefined);
  t.true(gz.bytes < plain.bytes / 2);
});
