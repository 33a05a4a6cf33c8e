// Checks every answer the end-to-end tests got against the OpenAPI documents:
//
//   node tests/browser/contract_check.mjs RESPONSES_DIR REPORT_PATH DOCUMENT.json [DOCUMENT.json ...]
//
// RESPONSES_DIR holds the *.jsonl files the tests' HTTP client writes (tests/support/
// http_client.cpp): one {method, path, status, content_type, body?} per answer. Each answer is
// matched to the first document with an operation for its path and method. The status must be
// documented for that operation, the content type must be one the document gives for it, and a
// JSON body must validate (Ajv, JSON Schema 2020-12) against the schema given for that status.
// An answer for a path no document has (or a known path with another method) must be a 404 (or
// 405) in the {"detail"} error shape. Writes a report (counts per operation and status, then
// every failure), prints a one-line summary, exits 1 if anything failed, 77 (skipped) when no
// answers were recorded.
import { readFile, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { makeAjv, schemaFor } from "./openapi_schemas.mjs";

const [dir, reportPath, ...documentPaths] = process.argv.slice(2);
if (!dir || !reportPath || documentPaths.length === 0) {
  console.error("usage: node contract_check.mjs RESPONSES_DIR REPORT_PATH DOCUMENT.json ...");
  process.exit(2);
}

const documents = [];
for (const file of documentPaths) {
  const document = JSON.parse(await readFile(file, "utf8"));
  const ajv = makeAjv(document);
  const operations = [];
  for (const [template, item] of Object.entries(document.paths)) {
    const pattern = new RegExp("^" + template.replace(/[.]/g, "\\.").replace(/\{[^}]+\}/g, "[^/]+") + "$");
    for (const [method, operation] of Object.entries(item))
      operations.push({ template, pattern, method: method.toUpperCase(), operation });
  }
  documents.push({ file: path.basename(path.dirname(file)) + "/" + path.basename(file), document, ajv, operations });
}
const resolve = (document, node) =>
  node?.$ref ? node.$ref.replace(/^#\//, "").split("/").reduce((n, k) => n[k], document) : node;

const validators = new Map();
function validatorFor(entry, key, schema) {
  if (!validators.has(key)) validators.set(key, entry.ajv.compile(schemaFor(schema)));
  return validators.get(key);
}
const errorShape = (body) =>
  body !== null && typeof body === "object" && !Array.isArray(body) && typeof body.detail === "string";

const counts = new Map();
const failures = [];
let checked = 0;
const files = (await readdir(dir).catch(() => [])).filter((f) => f.endsWith(".jsonl"));
for (const file of files) {
  const lines = (await readFile(path.join(dir, file), "utf8")).split("\n").filter(Boolean);
  for (const line of lines) {
    const r = JSON.parse(line);
    checked += 1;
    const where = `${r.method} ${r.path} -> ${r.status}`;
    const fail = (why) => failures.push(`${where}: ${why}`);
    let match, pathKnown = false;
    for (const entry of documents) {
      for (const op of entry.operations) {
        if (!op.pattern.test(r.path)) continue;
        pathKnown = true;
        if (op.method === r.method) { match = { entry, op }; break; }
      }
      if (match) break;
    }
    if (!match) {
      const key = `(no operation) ${r.status}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
      const want = pathKnown ? 405 : 404;
      if (r.status !== want) fail(`no operation for it, so it must be ${want}`);
      else if (!errorShape(r.body)) fail(`not the {"detail"} error shape: ${JSON.stringify(r.body)}`);
      continue;
    }
    const { entry, op } = match;
    const key = `${entry.file} ${op.method} ${op.template} ${r.status}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    const response = resolve(entry.document, op.operation.responses?.[String(r.status)] ?? op.operation.responses?.default);
    if (!response) { fail(`status ${r.status} is not documented for ${op.method} ${op.template}`); continue; }
    const content = response.content ?? {};
    const type = (r.content_type || "").split(";")[0].trim();
    const media = content[type] ?? content["*/*"];
    if (Object.keys(content).length > 0 && !media) {
      fail(`content type "${r.content_type}" is not documented (${Object.keys(content).join(", ")})`);
      continue;
    }
    if (media?.schema && r.body !== undefined) {
      if (r.body_is_json === false) { fail(`declared JSON but is not: ${String(r.body).slice(0, 200)}`); continue; }
      const validate = validatorFor(entry, `${key}`, media.schema);
      if (!validate(r.body))
        fail(`does not match the schema: ${JSON.stringify(validate.errors.slice(0, 3))}; body ${JSON.stringify(r.body).slice(0, 300)}`);
    }
  }
}

const lines = ["# Contract check", "", `${checked} answers of the end-to-end tests checked against ` +
  `${documents.map((d) => d.file).join(", ")}; ${failures.length} failed.`, "",
  "| operation and status | answers |", "|---|---|"];
for (const [key, n] of [...counts.entries()].sort()) lines.push(`| ${key} | ${n} |`);
if (failures.length) lines.push("", "## Failures", "", ...failures.slice(0, 200).map((f) => `- ${f}`));
await writeFile(reportPath, lines.join("\n") + "\n");
const operationsSeen = new Set([...counts.keys()].map((k) => k.split(" ").slice(0, 3).join(" "))).size;
console.log(`contract: ${checked} answers, ${operationsSeen} operations, ${failures.length} failures (report: ${reportPath})`);
for (const f of failures.slice(0, 30)) console.log(`FAIL ${f}`);
// No answers at all: no end-to-end test ran (e.g. `scripts/test -L pg`); say so, as skipped.
if (checked === 0) {
  console.log(`SKIPPED: no answers recorded in ${dir}: no end-to-end test ran`);
  process.exit(77);
}
process.exit(failures.length === 0 ? 0 : 1);
