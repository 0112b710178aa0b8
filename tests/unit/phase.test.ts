/**
 * stacks/phase.ts: in a preview a phase ends only when everything it created is
 * registered; in an update it waits for nothing (resources are created as in one pass).
 */
import { strict as assert } from "assert";
import * as pulumi from "@pulumi/pulumi";
import { chunks, phases } from "../../stacks/phase";
import { installMocks, type Recorder, settle } from "../../tools/harness";

class Thing extends pulumi.CustomResource {
  constructor(name: string, props: pulumi.Inputs, opts: pulumi.CustomResourceOptions) {
    super("test:phase:Thing", name, props, opts);
  }
}

/** A component with `n` custom children, as the estate's components are built. */
function component(name: string, n: number): void {
  const parent = new pulumi.ComponentResource("test:phase:Part", name);
  for (let i = 0; i < n; i++) new Thing(`${name}-${i}`, { i }, { parent });
}

const names = (rec: Recorder): string[] =>
  rec.resources.filter((r) => r.type !== "pulumi:pulumi:Stack").map((r) => r.name);

describe("phases (stacks/phase.ts)", () => {
  it("preview: after `await registered()` every resource of the phase, children included, is registered", async () => {
    const rec = installMocks("dev", { values: {}, secretKeys: [] }, true);
    const seen: string[][] = [];
    await pulumi.runtime.runInPulumiStack(async () => {
      const registered = phases();
      component("a", 5);
      seen.push(names(rec)); // nothing registered yet: the check below can fail
      await registered();
      seen.push(names(rec));
      component("b", 3);
      await registered();
      seen.push(names(rec));
      return {};
    });
    await settle();
    assert.deepEqual(seen[0], []);
    assert.deepEqual(seen[1].sort(), ["a", "a-0", "a-1", "a-2", "a-3", "a-4"]);
    assert.deepEqual(seen[2].slice(6).sort(), ["b", "b-0", "b-1", "b-2"]);
  });

  it("update: does not wait (nothing recorded, no registration awaited)", async () => {
    const rec = installMocks("dev", { values: {}, secretKeys: [] }, false);
    let after: string[] = [];
    await pulumi.runtime.runInPulumiStack(async () => {
      const registered = phases();
      component("a", 5);
      await registered();
      after = names(rec);
      return {};
    });
    await settle();
    assert.ok(after.length < 6, `registered before the phase ended: ${after.join(", ")}`);
    assert.equal(names(rec).length, 6);
  });

  it("chunks: consecutive slices, the last one shorter", () => {
    assert.deepEqual(chunks([1, 2, 3, 4, 5], 2), [[1, 2], [3, 4], [5]]);
    assert.deepEqual(chunks([], 25), []);
  });
});
