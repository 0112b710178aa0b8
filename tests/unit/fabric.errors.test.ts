/**
 * Fabric validation: the exact lines an operator reads, one broken thing per case,
 * starting from the committed dev stack.
 */
import { strict as assert } from "assert";
import { parseEstate } from "../../config/validate";
import { edit, problems, rawConfig } from "../helpers/config";

const dev = rawConfig("dev");

describe("fabric validation: exact messages", () => {
  it("rejects a server cabled twice to one leaf", () => {
    const raw = edit(dev, "servers", (s) => {
      s[0].uplinks[1].leaf = "leaf-1a";
      s[0].uplinks[1].port = "swp10";
    });
    assert.deepEqual(problems(raw), [
      'estate:servers[0].uplinks[1].leaf: "leaf-1a" is the leaf of every other uplink too; cable every server to at least two different leaves so that losing a leaf loses no server',
    ]);
  });

  it("rejects a leaf uplink to a switch that does not exist", () => {
    const raw = edit(dev, "switches", (s) => void (s[1].uplinks[0].spine = "spine-9"));
    assert.deepEqual(problems(raw), [
      'estate:switches[1].uplinks[0].spine: "spine-9" is not a switch in estate:switches; name one of spine-1',
      "estate:switches[1].uplinks: leaf leaf-1a has no link to spine spine-1; cable every leaf to every spine",
    ]);
  });

  it("rejects a server uplink to a switch that does not exist", () => {
    const raw = edit(dev, "servers", (s) => void (s[2].uplinks[0].leaf = "leaf-7a"));
    assert.deepEqual(problems(raw), [
      'estate:servers[2].uplinks[0].leaf: "leaf-7a" is not a switch in estate:switches; name one of leaf-1a, leaf-1b',
    ]);
  });

  it("rejects a leaf without uplinks", () => {
    const raw = edit(dev, "switches", (s) => void (s[1].uplinks = []));
    assert.deepEqual(problems(raw), [
      "estate:switches[1].uplinks: leaf leaf-1a has no uplinks; cable it to every spine",
    ]);
  });

  it("rejects a spine ASN outside the private ranges", () => {
    const raw = edit(dev, "switches", (s) => void (s[0].asn = 174));
    assert.deepEqual(problems(raw), [
      "estate:switches[0].asn: 174 is outside the private ASN ranges; use 64512-65534 or 4200000000-4294967294",
    ]);
  });

  it("rejects a server ASN base outside the private ranges", () => {
    const raw = {
      ...dev,
      values: { ...dev.values, "estate:fabric": JSON.stringify({ asns: { serverBase: 4199999999 } }) },
    };
    assert.deepEqual(problems(raw), [
      "estate:fabric.asns.serverBase: 4199999999 is outside the private ASN ranges; use 64512-65534 or 4200000000-4294967294",
    ]);
  });

  it("rejects a numbered fabric whose pool is big enough in total but not for its leaf-spine quarter", () => {
    let raw = edit(dev, "pools", (p) => void (p.fabricLinks = "10.119.0.0/29"));
    raw = { ...raw, values: { ...raw.values, "estate:fabric": JSON.stringify({ numbered: true }) } };
    raw = edit(raw, "servers", (s) => s.slice(0, 1));
    raw = { ...raw, values: { ...raw.values, "estate:kubernetes": '{"highAvailability":false}' } };
    const lines = problems(raw).filter((l) => l.startsWith("estate:pools.fabricLinks"));
    assert.deepEqual(lines, [
      'estate:pools.fabricLinks: "10.119.0.0/29" holds 1 leaf-spine and 3 server /31 links; the fabric has 2 and 2, use a larger pool',
    ]);
  });

  /** The fabric's warnings (dev also warns that it has no Alertmanager receiver). */
  const fabricWarning = (w: string) => /^estate:(switches|servers|fabric)\b/.test(w);

  it("warns (and only warns) when a leaf is oversubscribed above fabric.oversubscriptionLimit", () => {
    const raw = { ...dev, values: { ...dev.values, "estate:fabric": JSON.stringify({ oversubscriptionLimit: 0.5 }) } };
    const r = parseEstate(raw);
    assert.ok(r.ok, "a warning does not stop the deployment");
    assert.deepEqual(r.warnings.filter(fabricWarning), [
      "estate:switches[1].uplinks: leaf leaf-1a is oversubscribed 0.75:1 (75 Gb/s to servers, 100 Gb/s to spines), above fabric.oversubscriptionLimit 0.5; add spine uplinks or raise the limit",
      "estate:switches[2].uplinks: leaf leaf-1b is oversubscribed 0.75:1 (75 Gb/s to servers, 100 Gb/s to spines), above fabric.oversubscriptionLimit 0.5; add spine uplinks or raise the limit",
    ]);
  });

  it("does not warn at the default limit for dev and prod", () => {
    for (const stack of ["dev", "prod"] as const) {
      const r = parseEstate(rawConfig(stack));
      assert.deepEqual(r.warnings.filter(fabricWarning), []);
    }
  });
});
