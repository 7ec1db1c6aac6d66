// The probe's JSON schema, compiled once for the tests that validate its output.
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import schema from "../probe.schema.json";

const ajv = new Ajv2020({ allErrors: true, strict: false });
addFormats(ajv);
export const validateProbe = ajv.compile(schema);

export function schemaErrors(): string {
  return ajv.errorsText(validateProbe.errors);
}
