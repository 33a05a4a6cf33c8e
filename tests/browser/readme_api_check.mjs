// The README's API table and the OpenAPI document must list the same operations:
//
//   node tests/browser/readme_api_check.mjs README.md http/openapi.json
//
// Reads the first column of the table under "## API" in README.md: every `METHOD /path` in it,
// and bare `/path`s in the same cell (aliases, "also /a, /b"), which take the cell's method. A
// query string is ignored ("POST /process-image?async=true" is the same operation). Fails, naming
// them, on operations the document has and the table does not, and the reverse.
import { readFile } from "node:fs/promises";

const [readmePath, documentPath] = process.argv.slice(2);
const readme = await readFile(readmePath, "utf8");
const document = JSON.parse(await readFile(documentPath, "utf8"));

const section = readme.split(/^## API\s*$/m)[1]?.split(/^## /m)[0];
if (!section) { console.error(`no "## API" section in ${readmePath}`); process.exit(1); }
const inTable = new Set();
for (const line of section.split("\n")) {
  if (!line.startsWith("| `")) continue;
  const cell = line.split("|")[1];
  let method = null;
  for (const code of cell.match(/`[^`]+`/g) ?? []) {
    for (const part of code.slice(1, -1).split(/,\s*/)) {
      const m = part.trim().match(/^(?:(GET|POST|PUT|DELETE)\s+)?(\/\S*)$/);
      if (!m) continue;
      method = m[1] ?? method;
      if (method) inTable.add(`${method} ${m[2].split("?")[0]}`);
    }
  }
}
const inDocument = new Set();
for (const [path, item] of Object.entries(document.paths))
  for (const method of Object.keys(item)) inDocument.add(`${method.toUpperCase()} ${path}`);

const missing = [...inDocument].filter((op) => !inTable.has(op)).sort();
const extra = [...inTable].filter((op) => !inDocument.has(op)).sort();
if (missing.length) console.log(`in ${documentPath} but not in the README's API table: ${missing.join(", ")}`);
if (extra.length) console.log(`in the README's API table but not in ${documentPath}: ${extra.join(", ")}`);
console.log(`README API table: ${inTable.size} operations, document: ${inDocument.size}`);
process.exit(missing.length || extra.length ? 1 : 0);
