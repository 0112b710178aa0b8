/**
 * The stack outputs ops scripts read: one definition, composed from each component's
 * `output.ts`. The TypeScript types are inferred from it, and `ops/outputs.schema.json`
 * (what `check-outputs.ts` validates against with ajv) is generated from it:
 *
 *   npm run contract          rewrites ops/outputs.schema.json
 *
 * A test fails when the committed file and these definitions drift apart.
 */
import * as fs from "fs";
import * as path from "path";
import { z } from "zod";
import { CephOutput } from "../components/ceph/output";
import { FabricOutput } from "../components/fabric/output";
import { FrontendOutput } from "../components/frontend/output";
import { KubernetesOutput } from "../components/kubernetes/output";
import { MeshOutput } from "../components/mesh/output";
import { MonitoringOutput } from "../components/monitoring/output";
import { NodeOutput, SwitchOutput } from "../components/node/output";

/**
 * The contract's version (semver), published as the stack output `schemaVersion`.
 * Minor: a compatible change (a new optional property, a wider type). Major: anything a
 * reader of the previous version would trip over (a property removed or renamed, one
 * newly required, a type narrowed); `npm run contract` then commits the new major's base
 * schema (`ops/schemas/outputs-<major>.x.json`), and tests/e2e/contract.test.ts compares
 * every later change with it.
 */
export const SCHEMA_VERSION = "1.0.0";
export const SCHEMA_MAJOR = Number(SCHEMA_VERSION.split(".")[0]);

/** Marks a secret-bearing output in the schema (`x-estate-secret: true`); the tests hold the program to it. */
export const SECRET_KEYWORD = "x-estate-secret";

export const SiteOutput = z.strictObject({ stack: z.string().min(1), domain: z.string().min(1) });
export type SiteOutput = z.infer<typeof SiteOutput>;

export const StackOutputs = z
  .strictObject({
    schemaVersion: z
      .string()
      .regex(new RegExp(`^${SCHEMA_MAJOR}\\.(0|[1-9]\\d*)\\.(0|[1-9]\\d*)$`))
      .describe(`the version of this contract the outputs follow (semver; this schema reads major ${SCHEMA_MAJOR})`),
    site: SiteOutput,
    nodes: z.array(NodeOutput).min(1),
    switches: z.array(SwitchOutput).describe("the fabric's switches as SSH reaches them"),
    fabric: FabricOutput,
    frontend: FrontendOutput,
    ceph: CephOutput,
    kubernetes: KubernetesOutput,
    mesh: MeshOutput,
    /** Secret: `pulumi stack output --json` prints it as "[secret]" unless --show-secrets. */
    kubeconfig: z
      .string()
      .describe("the admin kubeconfig, server rewritten to the API endpoint (a secret output)")
      .meta({ [SECRET_KEYWORD]: true }),
    monitoring: MonitoringOutput,
    grafanaAdminPassword: z
      .string()
      .describe("Grafana's admin password (user monitoring.grafana.adminUser; a secret output)")
      .meta({ [SECRET_KEYWORD]: true }),
  })
  .meta({
    title: "estate stack outputs",
    description:
      "The contract ops scripts read (pulumi stack output --json). Generated from ops/contract.ts by `npm run contract`; do not edit. Adding a property is compatible; renaming or removing one is a breaking change.",
  });
export type StackOutputs = z.infer<typeof StackOutputs>;

export const SCHEMA_FILE = path.join(__dirname, "outputs.schema.json");

/** The schema as it was when this major began: what every later minor must stay compatible with. */
export const BASE_SCHEMA_FILE = path.join(__dirname, "schemas", `outputs-${SCHEMA_MAJOR}.x.json`);

/** The JSON Schema (draft-07, what ajv's default build reads) of the stack outputs. */
export function outputsJsonSchema(): Record<string, unknown> {
  const { $schema, ...rest } = z.toJSONSchema(StackOutputs, { target: "draft-07" });
  return { $schema, $id: "https://estate.internal/schemas/stack-outputs.json", ...rest };
}

/** The schema file's text as committed: JSON formatted by the project's prettier config. */
export async function outputsSchemaText(): Promise<string> {
  const prettier = await import("prettier");
  const options = (await prettier.resolveConfig(SCHEMA_FILE)) ?? {};
  return prettier.format(JSON.stringify(outputsJsonSchema()), { ...options, parser: "json" });
}

if (require.main === module) {
  void outputsSchemaText().then((text) => {
    fs.writeFileSync(SCHEMA_FILE, text);
    console.log(`wrote ${path.relative(process.cwd(), SCHEMA_FILE)}`);
    // A new major starts its base schema; an existing base is never rewritten.
    if (!fs.existsSync(BASE_SCHEMA_FILE)) {
      fs.mkdirSync(path.dirname(BASE_SCHEMA_FILE), { recursive: true });
      fs.writeFileSync(BASE_SCHEMA_FILE, text);
      console.log(`wrote ${path.relative(process.cwd(), BASE_SCHEMA_FILE)} (the base of major ${SCHEMA_MAJOR})`);
    }
  });
}
