/**
 * The schema compatibility checker (ops/compat.ts) on hand-made changes of the committed
 * base schema: every breaking change is found, with its path; widening passes.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import { schemaIncompatibilities } from "../../ops/compat";
import { BASE_SCHEMA_FILE } from "../../ops/contract";

type Schema = Record<string, any>;

const base = (): Schema => JSON.parse(fs.readFileSync(BASE_SCHEMA_FILE, "utf8")) as Schema;
const node = (s: Schema): Schema => s.properties.nodes.items;

describe("ops: schema compatibility against the base version", () => {
  it("the base against itself: nothing", () => {
    assert.deepEqual(schemaIncompatibilities(base(), base()), []);
  });

  it("a renamed field: the old name removed, the new one newly required", () => {
    const next = base();
    const props = node(next).properties;
    props.managementAddress = props.mgmtAddress;
    delete props.mgmtAddress;
    node(next).required = node(next).required.map((r: string) => (r === "mgmtAddress" ? "managementAddress" : r));
    assert.deepEqual(schemaIncompatibilities(base(), next), [
      "/nodes/[]/mgmtAddress: removed",
      "/nodes/[]/managementAddress: newly required",
    ]);
  });

  it("a removed section, and a field no longer required", () => {
    const next = base();
    delete next.properties.switches;
    next.required = next.required.filter((r: string) => r !== "switches");
    node(next).required = node(next).required.filter((r: string) => r !== "loopback");
    assert.deepEqual(schemaIncompatibilities(base(), next), [
      "/nodes/[]/loopback: no longer required",
      "/switches: removed",
    ]);
  });

  it("narrowed types: a type changed, an enum value dropped, a bound tightened, a pattern changed, a union variant dropped", () => {
    const next = base();
    next.properties.frontend.properties.ports.properties.https = { type: "string" };
    node(next).properties.roles.items.enum = node(next).properties.roles.items.enum.filter((r: string) => r !== "lb");
    next.properties.kubernetes.properties.agents.minItems = 1;
    next.definitions.Name.pattern = "^[a-z]+$";
    next.properties.fabric.properties.switches.items.oneOf.pop();
    const found = schemaIncompatibilities(base(), next);
    for (const want of [
      "/frontend/ports/https: type narrowed (integer -> string)",
      "/kubernetes/agents: minItems raised (none -> 1)",
      '/fabric/switches/[]: variant role="leaf" removed',
      '/nodes/[]/roles/[]: enum values removed: "lb"',
      '/nodes/[]/name: pattern changed ("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$" -> "^[a-z]+$")',
    ])
      assert.ok(found.includes(want), `${want}\nin:\n${found.join("\n")}`);
  });

  it("widening is compatible: a new optional property, a new enum value, a looser bound", () => {
    const next = base();
    node(next).properties.serial = { type: "string" };
    node(next).properties.roles.items.enum.push("gpu");
    next.properties.nodes.minItems = 0;
    assert.deepEqual(schemaIncompatibilities(base(), next), []);
  });
});
