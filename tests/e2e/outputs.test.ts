/** The stack outputs of every committed stack conform to the contract in ops/outputs.schema.json. */
import { strict as assert } from "assert";
import { outputProblems } from "../../ops/check-outputs";
import { planStack } from "../helpers/plan";

describe("stack outputs contract", function () {
  this.timeout(120000);

  for (const stack of ["dev", "prod"])
    it(`${stack}: outputs.json conforms to ops/outputs.schema.json`, () => {
      assert.deepEqual(outputProblems(planStack(stack).outputs), []);
    });

  it("rejects outputs that break the contract", () => {
    const outputs = JSON.parse(JSON.stringify(planStack("dev").outputs));
    delete outputs.frontend.vip;
    outputs.nodes[0].loopback = "not-an-address";
    assert.deepEqual(outputProblems(outputs), [
      '/nodes/0/loopback: must match pattern "^(\\d{1,3}\\.){3}\\d{1,3}$"',
      "/frontend: must have required property 'vip'",
    ]);
  });
});
