/**
 * tools/harness.ts: the plan's stand-in for the protobuf round trip of a request's
 * properties must give what `Struct.fromJavaScript(x).toJavaScript()` gives.
 */
import { strict as assert } from "assert";
import fc from "fast-check";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { structCopy } from "../../tools/harness";

const roundTrip = (o: Record<string, unknown>): unknown =>
  Struct.fromJavaScript(o as Parameters<typeof Struct.fromJavaScript>[0]).toJavaScript();

/** Key order included: resources.json and YAML artifacts are written in it. */
const ordered = (v: unknown): string => JSON.stringify(v);

describe("structCopy (tools/harness.ts)", () => {
  it("equals the protobuf round trip, key order included, for any JSON object", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (o) => {
        assert.equal(ordered(structCopy(o)), ordered(roundTrip(o)));
      }),
      { numRuns: 300 },
    );
  });

  it("sorts keys as the protobuf map does, nested in arrays too", () => {
    const o = { b: 1, a: { z: [1, "x", null, { y: true, c: 2 }], B: "q" }, "10": 1, "9": 2, _: 3 };
    assert.equal(ordered(structCopy(o)), ordered(roundTrip(o)));
    assert.equal(ordered(structCopy(o)), '{"9":2,"10":1,"_":3,"a":{"B":"q","z":[1,"x",null,{"c":2,"y":true}]},"b":1}');
  });

  it("refuses what protobuf refuses, with its message", () => {
    for (const bad of [{ a: undefined }, { a: [() => 1] }, { a: { b: Symbol("s") } }, { a: 1n }]) {
      assert.throws(() => roundTrip(bad), /Unexpected struct type/);
      assert.throws(() => structCopy(bad), /Unexpected struct type/);
    }
  });

  it("copies: a later change to the input does not reach the copy", () => {
    const o = { a: { b: [1] } };
    const c = structCopy(o) as { a: { b: number[] } };
    o.a.b.push(2);
    assert.deepEqual(c.a.b, [1]);
  });
});
