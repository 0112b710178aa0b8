/**
 * The stack-output contract: ops/outputs.schema.json is what ops/contract.ts generates,
 * the program's output types are the contract's, and the outputs of every committed
 * stack conform to it.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import type * as pulumi from "@pulumi/pulumi";
import { outputProblems } from "../../ops/check-outputs";
import { outputsSchemaText, SCHEMA_FILE, type StackOutputs } from "../../ops/contract";
import type { EstateOutputs } from "../../stacks";
import { planStack } from "../helpers/plan";

// Compile-time: what the program exports, once resolved, is exactly the contract's type.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const exportsAreTheContract: Same<pulumi.Unwrap<EstateOutputs>, StackOutputs> = true;

describe("stack outputs contract", function () {
  this.timeout(120000);

  it("ops/outputs.schema.json is generated from ops/contract.ts (run `npm run contract` after changing an output)", async () => {
    assert.ok(exportsAreTheContract);
    assert.equal(fs.readFileSync(SCHEMA_FILE, "utf8"), await outputsSchemaText());
  });

  for (const stack of ["dev", "prod"])
    it(`${stack}: outputs.json conforms to ops/outputs.schema.json`, () => {
      assert.deepEqual(outputProblems(planStack(stack).outputs), []);
    });

  it("rejects outputs that break the contract", () => {
    const outputs = JSON.parse(JSON.stringify(planStack("dev").outputs));
    delete outputs.frontend.vip;
    outputs.nodes[0].loopback = "10.111.0.256";
    delete outputs.fabric.switches[1].rack;
    outputs.fabric.links[0].a.address = "10.254.0.0/30";
    outputs.site.extra = true;
    const octet = "(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
    assert.deepEqual(outputProblems(outputs), [
      "/site: must NOT have additional properties",
      `/nodes/0/loopback: must match pattern "^${octet}(\\.${octet}){3}$"`,
      // a leaf without its rack: neither the spine's shape nor the leaf's
      "/fabric/switches/1/role: must be equal to constant",
      "/fabric/switches/1: must have required property 'rack'",
      "/fabric/switches/1: must match exactly one schema in oneOf",
      `/fabric/links/0/a/address: must match pattern "^${octet}(\\.${octet}){3}\\/31$"`,
      "/frontend: must have required property 'vip'",
    ]);
  });
});
