// Ajv set up for the schemas of an OpenAPI 3.1 document: JSON Schema 2020-12, the formats
// OpenAPI uses, and OpenAPI's own keywords (example, discriminator, ...) allowed. The document is
// added whole under the id "openapi", so "#/components/..." references resolve through it.
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

export function makeAjv(document) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addFormat("binary", true); // a file part of a multipart body
  ajv.addSchema(rewrite(document), "openapi");
  return ajv;
}

// A schema of the document, its local references pointed at the document added above.
export function schemaFor(schema) {
  return rewrite(schema);
}

function rewrite(node) {
  if (Array.isArray(node)) return node.map(rewrite);
  if (node === null || typeof node !== "object") return node;
  const out = {};
  for (const [key, value] of Object.entries(node)) {
    out[key] = key === "$ref" && typeof value === "string" && value.startsWith("#/")
      ? `openapi${value}`
      : rewrite(value);
  }
  return out;
}
