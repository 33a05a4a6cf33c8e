// Validates OpenAPI documents with a real validator and checks their examples against their
// own schemas, so a document that drifts from itself fails:
//   node tests/browser/openapi_check.mjs http/openapi.json ml_mock/openapi.json
// Per file: the document validates as OpenAPI 3.1 (@seriousme/openapi-schema-validator), every
// schema in it compiles with Ajv (JSON Schema 2020-12, as OpenAPI 3.1 uses), and every example of
// a response or request body validates against the schema beside it.
import { readFile } from "node:fs/promises";
import { Validator } from "@seriousme/openapi-schema-validator";
import { makeAjv, schemaFor } from "./openapi_schemas.mjs";

let failures = 0;
const fail = (message) => {
  failures += 1;
  console.error(`FAIL ${message}`);
};

for (const file of process.argv.slice(2)) {
  const document = JSON.parse(await readFile(file, "utf8"));
  const validator = new Validator();
  const result = await validator.validate(document);
  if (!result.valid) {
    fail(`${file}: not a valid OpenAPI document: ${JSON.stringify(result.errors, null, 1)}`);
    continue;
  }
  if (!document.openapi.startsWith("3.1.")) fail(`${file}: openapi is ${document.openapi}, not 3.1`);
  const ajv = makeAjv(document);
  let examples = 0;
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      const bodies = Object.entries(operation.responses ?? {}).map(([status, response]) => [
        `${method.toUpperCase()} ${path} ${status}`,
        response.$ref ? resolve(document, response.$ref) : response,
      ]);
      if (operation.requestBody) bodies.push([`${method.toUpperCase()} ${path} request`, operation.requestBody]);
      for (const [where, body] of bodies) {
        for (const [type, media] of Object.entries(body.content ?? {})) {
          const values = media.example !== undefined ? [media.example] : [];
          for (const example of Object.values(media.examples ?? {})) values.push(example.value);
          if (!media.schema || values.length === 0) continue;
          const validate = ajv.compile(schemaFor(media.schema));
          for (const value of values) {
            examples += 1;
            if (!validate(value))
              fail(`${file}: ${where} ${type}: the example does not match its schema: ` +
                   JSON.stringify(validate.errors));
          }
        }
      }
    }
  }
  console.log(`${file}: valid OpenAPI ${document.openapi}, ${Object.keys(document.paths).length} paths, ` +
              `${Object.keys(document.components?.schemas ?? {}).length} schemas, ${examples} examples checked`);
}

function resolve(document, ref) {
  return ref.replace(/^#\//, "").split("/").reduce((node, key) => node[key], document);
}

process.exit(failures === 0 ? 0 : 1);
