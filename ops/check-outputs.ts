/**
 * Checks stack outputs against the contract ops scripts rely on: ops/outputs.schema.json,
 * generated from ops/contract.ts (`npm run contract`). Plain JSON Schema and ajv, so an
 * ops pipeline needs neither zod nor this program's sources, only the file:
 *
 *   pulumi stack output --json -s prod | npx ts-node --transpile-only ops/check-outputs.ts
 *   npx ts-node --transpile-only ops/check-outputs.ts plan/prod/outputs.json
 *
 * Exit 0 when they conform; 1 with one line per violation otherwise.
 */
import * as fs from "fs";
import * as path from "path";
import Ajv, { type ValidateFunction } from "ajv";

/** The contract's own annotation: a secret-bearing output (`x-estate-secret: true`). */
const SECRET_KEYWORD = "x-estate-secret";

let compiled: ValidateFunction | undefined;

/** The validator of ops/outputs.schema.json (compiled once). */
export function outputsValidator(): ValidateFunction {
  if (!compiled) {
    const schema = JSON.parse(fs.readFileSync(path.join(__dirname, "outputs.schema.json"), "utf8"));
    const ajv = new Ajv({ allErrors: true });
    ajv.addKeyword({ keyword: SECRET_KEYWORD, schemaType: "boolean" });
    compiled = ajv.compile(schema);
  }
  return compiled;
}

export function outputProblems(outputs: unknown): string[] {
  const validate = outputsValidator();
  if (validate(outputs)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || "/"}: ${e.message}`);
}

if (require.main === module) {
  const file = process.argv[2];
  const text = fs.readFileSync(file ?? 0, "utf8");
  const problems = outputProblems(JSON.parse(text));
  for (const p of problems) console.error(p);
  process.exit(problems.length ? 1 : 0);
}
