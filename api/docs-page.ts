import { createHash } from "node:crypto";

/**
 * `/api/v1/docs`: the OpenAPI document as one self-contained HTML page — no script, no CDN, one
 * inline stylesheet allowed by its hash in the page's CSP. Each operation lists its access, its
 * parameters and its request and response schemas.
 */
const STYLE = `
body{font:15px/1.5 system-ui,sans-serif;overflow-wrap:anywhere;margin:0 auto;max-width:960px;padding:1rem 2rem;color:#1b1f24}
h1{margin-bottom:0}h2{margin-top:2.5rem;border-bottom:1px solid #d0d7de}
section{border:1px solid #d0d7de;border-radius:6px;margin:1rem 0;padding:.5rem 1rem}
.m{display:inline-block;min-width:4.5rem;font-weight:700;text-transform:uppercase}
.get{color:#0969da}.post{color:#1a7f37}.patch{color:#9a6700}.put{color:#8250df}.delete{color:#cf222e}
code{font-size:14px}pre{background:#f6f8fa;padding:.5rem;overflow:auto;font-size:13px}
table{border-collapse:collapse;display:block;max-width:100%;overflow-x:auto}td,th{border:1px solid #d0d7de;padding:.2rem .5rem;text-align:left}
`;

export const DOCS_CSP = `default-src 'none'; style-src 'sha256-${createHash("sha256").update(STYLE).digest("base64")}'; frame-ancestors 'none'`;

type Json = Record<string, unknown>;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function schemaBlock(schema: unknown): string {
  return `<pre>${escapeHtml(JSON.stringify(schema, null, 2))}</pre>`;
}

function renderOperation(method: string, path: string, op: Json): string {
  const parts = [
    `<section id="${escapeHtml(String(op["operationId"]))}">`,
    `<h3><span class="m ${method}">${method}</span> <code>${escapeHtml(path)}</code></h3>`,
    `<p>${escapeHtml(String(op["summary"] ?? ""))}</p>`,
  ];
  for (const line of String(op["description"] ?? "").split("\n\n")) {
    if (line) parts.push(`<p>${escapeHtml(line)}</p>`);
  }
  const parameters = (op["parameters"] ?? []) as Json[];
  if (parameters.length > 0) {
    parts.push("<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>required</th><th>schema</th></tr>");
    for (const p of parameters) {
      parts.push(
        `<tr><td><code>${escapeHtml(String(p["name"]))}</code></td><td>${escapeHtml(String(p["in"]))}</td>` +
          `<td>${p["required"] ? "yes" : "no"}</td><td><code>${escapeHtml(JSON.stringify(p["schema"]))}</code></td></tr>`,
      );
    }
    parts.push("</table>");
  }
  const body = op["requestBody"] as Json | undefined;
  if (body) {
    const content = body["content"] as Record<string, Json>;
    parts.push(
      "<h4>Request body (application/json)</h4>",
      schemaBlock(content["application/json"]?.["schema"]),
    );
  }
  parts.push("<h4>Responses</h4>");
  for (const [status, response] of Object.entries((op["responses"] ?? {}) as Record<string, Json>)) {
    parts.push(
      `<p><strong>${escapeHtml(status)}</strong> ${escapeHtml(String(response["description"] ?? ""))}</p>`,
    );
    const content = response["content"] as Record<string, Json> | undefined;
    const [type, media] = Object.entries(content ?? {})[0] ?? [];
    const schema = media?.["schema"];
    // A download names its media type alone; a problem's schema is shown once, at the end.
    if (type && schema === undefined) parts.push(`<p><code>${escapeHtml(type)}</code></p>`);
    else if (type && !JSON.stringify(schema).includes("#/components/")) parts.push(schemaBlock(schema));
  }
  parts.push("</section>");
  return parts.join("\n");
}

export function renderDocsPage(document: Json): string {
  const info = document["info"] as Json;
  const paths = (document["paths"] ?? {}) as Record<string, Record<string, Json>>;
  const byTag = new Map<string, string[]>();
  for (const [path, operations] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(operations)) {
      const tag = ((op["tags"] as string[] | undefined) ?? ["other"])[0] ?? "other";
      byTag.set(tag, [...(byTag.get(tag) ?? []), renderOperation(method, path, op)]);
    }
  }
  const sections = [...byTag].map(([tag, ops]) => `<h2>${escapeHtml(tag)}</h2>\n${ops.join("\n")}`);
  const components = document["components"] as Json;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(String(info["title"]))} API</title><style>${STYLE}</style></head>
<body><h1>${escapeHtml(String(info["title"]))} API <small>${escapeHtml(String(info["version"]))}</small></h1>
<p>${escapeHtml(String(info["description"] ?? ""))} Machine-readable: <a href="openapi.json">openapi.json</a> (OpenAPI 3.1).
Errors are <code>application/problem+json</code> (RFC 9457):</p>
${schemaBlock((components["schemas"] as Json)["Problem"])}
${sections.join("\n")}
</body></html>
`;
}
