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
import { NodeOutput } from "../components/node/output";

export const SiteOutput = z.strictObject({ stack: z.string().min(1), domain: z.string().min(1) });
export type SiteOutput = z.infer<typeof SiteOutput>;

export const StackOutputs = z
  .strictObject({
    site: SiteOutput,
    nodes: z.array(NodeOutput).min(1),
    fabric: FabricOutput,
    frontend: FrontendOutput,
    ceph: CephOutput,
    kubernetes: KubernetesOutput,
    mesh: MeshOutput,
    /** Secret: `pulumi stack output --json` prints it as "[secret]" unless --show-secrets. */
    kubeconfig: z.string().describe("the admin kubeconfig, server rewritten to the API endpoint (a secret output)"),
    monitoring: MonitoringOutput,
    grafanaAdminPassword: z
      .string()
      .describe("Grafana's admin password (user monitoring.grafana.adminUser; a secret output)"),
  })
  .meta({
    title: "estate stack outputs",
    description:
      "The contract ops scripts read (pulumi stack output --json). Generated from ops/contract.ts by `npm run contract`; do not edit. Adding a property is compatible; renaming or removing one is a breaking change.",
  });
export type StackOutputs = z.infer<typeof StackOutputs>;

export const SCHEMA_FILE = path.join(__dirname, "outputs.schema.json");

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
  });
}
