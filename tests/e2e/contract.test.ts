/**
 * The versioned output contract (ops/contract.ts, README "Output contract"):
 * - the dev and prod plans' outputs carry `schemaVersion` and validate against the schema;
 * - every field the schema marks secret (`x-estate-secret`) is a secret in the program's
 *   outputs, and no other field is: checked on the outputs as `pulumi up` leaves them
 *   (the program under apply-mode mocks, tests/helpers/applied-outputs.ts), because a
 *   preview (and so the plan) shows a secret that is not known yet as "[unknown]";
 * - the generated schema is compatible with the committed base schema of its major
 *   (ops/schemas/outputs-<major>.x.json), so a field removed or renamed without a major
 *   bump fails here (the checker's own cases: tests/unit/ops.compat.test.ts).
 */
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { outputProblems } from "../../ops/check-outputs";
import { schemaIncompatibilities } from "../../ops/compat";
import { BASE_SCHEMA_FILE, outputsJsonSchema, SCHEMA_MAJOR, SCHEMA_VERSION, SECRET_KEYWORD } from "../../ops/contract";
import { planStack, PROJECT_DIR } from "../helpers/plan";

type Json = Record<string, unknown>;

/** Paths (`a/b/[]/c`) of every schema node marked secret. */
export function secretPaths(schema: Json): string[] {
  const defs = (schema.definitions ?? {}) as Record<string, Json>;
  const out: string[] = [];
  const walk = (s: Json | undefined, at: string): void => {
    if (!s) return;
    if (typeof s.$ref === "string") return walk(defs[s.$ref.replace("#/definitions/", "")], at);
    if (s[SECRET_KEYWORD] === true) out.push(at);
    for (const k of ["allOf", "anyOf", "oneOf"] as const)
      for (const v of (s[k] as Json[] | undefined) ?? []) walk(v, at);
    for (const [k, v] of Object.entries((s.properties ?? {}) as Record<string, Json>)) walk(v, at ? `${at}/${k}` : k);
    if (s.items) walk(s.items as Json, `${at}/[]`);
  };
  walk(schema, "");
  return [...new Set(out)].sort();
}

/** Paths (same form) whose value is exactly `marker`. */
function pathsHolding(value: unknown, marker: string, at = ""): string[] {
  if (value === marker) return [at];
  if (Array.isArray(value)) return [...new Set(value.flatMap((v) => pathsHolding(v, marker, `${at}/[]`)))];
  if (value && typeof value === "object")
    return Object.entries(value).flatMap(([k, v]) => pathsHolding(v, marker, at ? `${at}/${k}` : k));
  return [];
}

function appliedOutputs(stack: string): Json {
  const text = execFileSync(
    process.execPath,
    [
      require.resolve("ts-node/dist/bin.js"),
      "--transpile-only",
      path.join(PROJECT_DIR, "tests/helpers/applied-outputs.ts"),
      stack,
    ],
    { cwd: PROJECT_DIR, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 300000 },
  );
  return JSON.parse(text) as Json;
}

describe("output contract, versioned", function () {
  this.timeout(600000);

  for (const stack of ["dev", "prod"]) {
    it(`${stack}: the plan's outputs carry schemaVersion ${SCHEMA_VERSION} and validate`, () => {
      const outputs = planStack(stack).outputs;
      assert.equal(outputs.schemaVersion, SCHEMA_VERSION);
      assert.deepEqual(outputProblems(outputs), []);
    });

    it(`${stack}: exactly the fields the schema marks secret are secret once applied`, () => {
      const marked = secretPaths(outputsJsonSchema());
      assert.ok(marked.includes("kubeconfig"), "the kubeconfig is marked");
      const outputs = appliedOutputs(stack);
      assert.deepEqual(outputProblems(outputs), [], "the applied outputs validate too");
      assert.deepEqual(pathsHolding(outputs, "[secret]").sort(), marked);
      // In the plan (a preview) a marked field is a secret or not yet known; never a value.
      const planned = planStack(stack).outputs;
      for (const p of marked) {
        const v = p.split("/").reduce<unknown>((o, k) => (o as Json | undefined)?.[k], planned);
        assert.ok(v === "[secret]" || v === "[unknown]", `${stack} plan: ${p} is ${JSON.stringify(v)}`);
      }
    });
  }

  it("the secret check finds a secret field the schema does not mark", () => {
    const schema = outputsJsonSchema();
    delete (schema.properties as Record<string, Json>).kubeconfig[SECRET_KEYWORD];
    assert.ok(!secretPaths(schema).includes("kubeconfig"));
    assert.notDeepEqual(pathsHolding({ kubeconfig: "[secret]" }, "[secret]"), secretPaths(schema));
  });

  it(`the schema is compatible with the committed base of major ${SCHEMA_MAJOR}`, () => {
    const rel = path.relative(PROJECT_DIR, BASE_SCHEMA_FILE);
    assert.ok(
      fs.existsSync(BASE_SCHEMA_FILE),
      `no base schema for major ${SCHEMA_MAJOR}: run \`npm run contract\` and commit ${rel}`,
    );
    const base = JSON.parse(fs.readFileSync(BASE_SCHEMA_FILE, "utf8")) as Json;
    const problems = schemaIncompatibilities(base, outputsJsonSchema());
    assert.deepEqual(
      problems,
      [],
      `breaking changes against ${rel} without a major bump (SCHEMA_VERSION in ops/contract.ts)`,
    );
  });

  it("a field renamed in the contract without a major bump fails that comparison", () => {
    const base = JSON.parse(fs.readFileSync(BASE_SCHEMA_FILE, "utf8")) as Json;
    const next = outputsJsonSchema() as {
      properties: Record<string, { properties: Record<string, unknown>; required: string[] }>;
    };
    const fe = next.properties.frontend;
    fe.properties.floatingIp = fe.properties.vip;
    delete fe.properties.vip;
    fe.required = fe.required.map((r) => (r === "vip" ? "floatingIp" : r));
    assert.deepEqual(schemaIncompatibilities(base, next), [
      "/frontend/vip: removed",
      "/frontend/floatingIp: newly required",
    ]);
  });
});
