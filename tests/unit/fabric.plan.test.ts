/**
 * The fabric plan: exact links and ratios for dev, and fast-check properties over
 * synthetic estates (unnumbered and numbered): no address twice, everything inside its
 * pool, ASNs unique where RFC 7938 wants them unique, nothing renumbered by appending.
 */
import { strict as assert } from "assert";
import fc from "fast-check";
import { Address4 } from "ip-address";
import { frrInputFor } from "../../components/fabric/input";
import { type FabricPlan, fabricOutput, planFabric, sessionsOf } from "../../components/fabric/plan";
import { renderFrrConf } from "../../components/fabric/render";
import type { Estate } from "../../config/model";
import { synthesize, syntheticHostKey } from "../../tools/synth-estate";
import { parseEstate } from "../../config/validate";
import { estateOf as committedEstate, rawConfig } from "../helpers/config";

/** The model of a synthetic stack config; keys it does not set (versions, secrets) come from dev. */
function estateOf(values: Record<string, unknown>, stack = "synth"): Estate {
  const base = rawConfig("dev");
  const raw = {
    stack,
    values: {
      ...base.values,
      ...Object.fromEntries(Object.entries(values).map(([k, v]) => [k, JSON.stringify(v)])),
    },
    secretKeys: base.secretKeys,
  };
  const r = parseEstate(raw);
  if (!r.ok) throw new Error(r.problems.join("\n"));
  return r.estate;
}

function synth(servers: number, racks: number, spines: number, numbered: boolean): Estate {
  const c = synthesize({ servers, racks, spines });
  if (numbered) {
    c["estate:pools"] = { ...(c["estate:pools"] as object), fabricLinks: "10.254.0.0/20" };
    c["estate:fabric"] = { numbered: true };
  }
  return estateOf(c);
}

/** The synthetic config with `extra` servers appended at the end of the stack file, on the last rack's leaves. */
function appended(c: Record<string, unknown>, extra: number): Record<string, unknown> {
  const servers = c["estate:servers"] as Record<string, any>[];
  const last = servers[servers.length - 1];
  const added = Array.from({ length: extra }, (_, j) => {
    const s = JSON.parse(JSON.stringify(last)) as Record<string, any>;
    s.name = `srv-new-${j}`;
    s.mgmtAddress = `10.0.0.${200 + j}`;
    s.hostKey = syntheticHostKey(s.name);
    s.roles = ["k8s-agent"];
    delete s.frontend;
    s.hardware.nics = s.hardware.nics.filter((n: { name: string }) => n.name !== "eno1");
    s.hardware.disks = s.hardware.disks.map((d: { path: string }) => ({
      ...d,
      path: `${d.path}-new-${j}`,
      use: "spare",
    }));
    s.uplinks = s.uplinks.map((u: Record<string, string>) => ({ ...u, port: `swp${100 + j}` }));
    return s;
  });
  return { ...c, "estate:servers": [...servers, ...added] };
}

function synthConfig(s: { servers: number; racks: number; spines: number; numbered: boolean }) {
  const c = synthesize(s);
  // A pool with room to grow: the property appends servers without touching the pools.
  c["estate:pools"] = { ...(c["estate:pools"] as object), loopbacks: "10.250.0.0/20", fabricLinks: "10.254.0.0/20" };
  if (s.numbered) c["estate:fabric"] = { numbered: true };
  return c;
}

const inside = (addr: string, cidr: string) => new Address4(addr).isInSubnet(new Address4(cidr));
const bare = (a: string) => a.replace(/\/\d+$/, "");

function addresses(plan: FabricPlan): string[] {
  return [
    ...plan.nodes.map((n) => n.loopback),
    ...plan.links
      .flatMap((l) => [l.a.address, l.b.address])
      .filter((a): a is string => !!a)
      .map(bare),
  ];
}

const shape = fc.record({
  servers: fc.integer({ min: 6, max: 40 }),
  racks: fc.integer({ min: 1, max: 4 }),
  spines: fc.integer({ min: 1, max: 4 }),
  numbered: fc.boolean(),
});

describe("fabric plan", () => {
  it("plans dev: links with both interface names and speeds, ratios per leaf", () => {
    const r = parseEstate(rawConfig("dev"));
    assert.ok(r.ok);
    const out = fabricOutput(planFabric(r.estate));
    assert.equal(out.numbered, false);
    assert.deepEqual(out.switches, [
      { name: "spine-1", role: "spine", asn: 65000, loopback: "10.111.0.1" },
      { name: "leaf-1a", role: "leaf", rack: "r1", asn: 65100, loopback: "10.111.0.2" },
      { name: "leaf-1b", role: "leaf", rack: "r1", asn: 65101, loopback: "10.111.0.3" },
    ]);
    assert.deepEqual(out.servers, [
      { name: "srv-1", asn: 4200000000, loopback: "10.111.0.64" },
      { name: "srv-2", asn: 4200000001, loopback: "10.111.0.65" },
      { name: "srv-3", asn: 4200000002, loopback: "10.111.0.66" },
    ]);
    assert.deepEqual(out.links.slice(0, 3), [
      { a: { node: "leaf-1a", iface: "swp51" }, b: { node: "spine-1", iface: "swp1" }, speedGbps: 100 },
      { a: { node: "leaf-1b", iface: "swp51" }, b: { node: "spine-1", iface: "swp2" }, speedGbps: 100 },
      { a: { node: "srv-1", iface: "ens1f0" }, b: { node: "leaf-1a", iface: "swp1" }, speedGbps: 25 },
    ]);
    assert.equal(out.links.length, 8);
    assert.deepEqual(out.oversubscription, [
      { leaf: "leaf-1a", ratio: 0.75 },
      { leaf: "leaf-1b", ratio: 0.75 },
    ]);
    assert.deepEqual(sessionsOf(planFabric(r.estate), "srv-2"), [
      { iface: "ens1f0", peer: "leaf-1a" },
      { iface: "ens1f1", peer: "leaf-1b" },
    ]);
  });

  it("gives numbered links /31s from pools.fabricLinks, leaf-spine in the first quarter", () => {
    const e = synth(6, 2, 2, true);
    const plan = planFabric(e);
    assert.deepEqual(plan.links[0].a, { node: "leaf-1a", iface: "swp4", address: "10.254.0.0/31" });
    assert.deepEqual(plan.links[0].b, { node: "spine-1", iface: "swp1", address: "10.254.0.1/31" });
    const firstServerLink = plan.links.find((l) => l.kind === "server-leaf")!;
    assert.equal(firstServerLink.a.address, "10.254.4.0/31"); // 2048 slots, a quarter = 512 slots = 1024 addresses
    assert.deepEqual(sessionsOf(plan, "srv-0001")[0], {
      iface: "ens1f0",
      peer: "leaf-1a",
      localAddress: "10.254.4.0/31",
      peerAddress: "10.254.4.1",
    });
  });

  it("property: no address is used twice, and each is inside its pool", () => {
    fc.assert(
      fc.property(shape, (s) => {
        const e = synth(s.servers, s.racks, s.spines, s.numbered);
        const plan = planFabric(e);
        const all = addresses(plan);
        assert.equal(new Set(all).size, all.length);
        for (const n of plan.nodes) assert.ok(inside(n.loopback, e.pools.loopbacks), n.loopback);
        for (const l of plan.links)
          for (const end of [l.a, l.b]) {
            if (!s.numbered) assert.equal(end.address, undefined);
            else assert.ok(inside(bare(end.address!), e.pools.fabricLinks!), end.address);
          }
        if (s.numbered)
          for (const l of plan.links) {
            // both ends of a link share one /31
            const net = new Address4(l.a.address!).startAddress().correctForm();
            assert.equal(new Address4(l.b.address!).startAddress().correctForm(), net);
          }
      }),
      { numRuns: 60 },
    );
  });

  it("property: spines share one ASN; every leaf and every server has its own, and no two tiers collide", () => {
    fc.assert(
      fc.property(shape, (s) => {
        const plan = planFabric(synth(s.servers, s.racks, s.spines, s.numbered));
        const of = (k: string) => plan.nodes.filter((n) => n.kind === k).map((n) => n.asn);
        assert.equal(new Set(of("spine")).size, 1);
        assert.equal(new Set(of("leaf")).size, of("leaf").length);
        assert.equal(new Set(of("server")).size, of("server").length);
        const tiers = [new Set(of("spine")), new Set(of("leaf")), new Set(of("server"))];
        for (let i = 0; i < 3; i++)
          for (let j = i + 1; j < 3; j++)
            for (const a of tiers[i]) assert.ok(!tiers[j].has(a), `ASN ${a} in two tiers`);
      }),
      { numRuns: 60 },
    );
  });

  it("property: appending servers renumbers nothing that exists (loopbacks, ASNs, links, /31s)", () => {
    fc.assert(
      fc.property(shape, fc.integer({ min: 1, max: 12 }), (s, extra) => {
        const c = synthConfig(s);
        const before = planFabric(estateOf(c));
        const after = planFabric(estateOf(appended(c, extra)));
        assert.deepEqual(after.nodes.slice(0, before.nodes.length), before.nodes);
        assert.deepEqual(after.links.slice(0, before.links.length), before.links);
        assert.equal(after.nodes.length, before.nodes.length + extra);
      }),
      { numRuns: 40 },
    );
  });

  it("appending a server in the stack file keeps every existing plan entry byte for byte", () => {
    for (const numbered of [false, true]) {
      const c = synthesize({ servers: 9, racks: 3 });
      if (numbered) {
        c["estate:pools"] = { ...(c["estate:pools"] as object), fabricLinks: "10.254.0.0/20" };
        c["estate:fabric"] = { numbered: true };
      }
      const before = planFabric(estateOf(c));
      const servers = c["estate:servers"] as Record<string, unknown>[];
      const copy = JSON.parse(JSON.stringify(servers[8])) as Record<string, any>;
      copy.name = "srv-new";
      copy.mgmtAddress = "10.0.0.200";
      copy.hostKey = syntheticHostKey(copy.name);
      copy.hardware.disks = copy.hardware.disks.map((d: { path: string }) => ({ ...d, path: `${d.path}-new` }));
      copy.uplinks = copy.uplinks.map((u: { port: string }) => ({ ...u, port: "swp9" }));
      c["estate:servers"] = [...servers, copy];
      const after = planFabric(estateOf(c));
      assert.deepEqual(after.nodes.slice(0, before.nodes.length), before.nodes);
      assert.deepEqual(after.links.slice(0, before.links.length), before.links);
      assert.equal(after.links.length, before.links.length + 2);
    }
  });

  it("appending a leaf keeps every existing leaf-spine and server link", () => {
    const c = synthesize({ servers: 6, racks: 2 });
    c["estate:pools"] = { ...(c["estate:pools"] as object), fabricLinks: "10.254.0.0/20" };
    c["estate:fabric"] = { numbered: true };
    const before = planFabric(estateOf(c));
    const switches = c["estate:switches"] as Record<string, any>[];
    const leaf = JSON.parse(JSON.stringify(switches[switches.length - 1])) as Record<string, any>;
    leaf.name = "leaf-3a";
    leaf.rack = "r3";
    leaf.mgmtAddress = "10.0.0.201";
    leaf.hostKey = syntheticHostKey(leaf.name);
    leaf.uplinks = leaf.uplinks.map((u: Record<string, string>) => ({ ...u, spinePort: "swp9" }));
    c["estate:switches"] = [...switches, leaf];
    const after = planFabric(estateOf(c));
    const strip = (p: FabricPlan) => p.links.map((l) => JSON.stringify(l));
    for (const l of strip(before)) assert.ok(strip(after).includes(l), l);
    assert.deepEqual(
      after.nodes.filter((n) => n.name !== "leaf-3a" && n.kind !== "server"),
      before.nodes.filter((n) => n.kind !== "server"),
    );
  });
});

/**
 * Cabling operators use that validation now accepts, built by hand from dev (validation is
 * not under test here): the plan and the FRR sessions must be per link, never per peer.
 */
describe("fabric plan: real cabling", () => {
  const numbered = (e: Estate): Estate => ({
    ...e,
    pools: { ...e.pools, fabricLinks: "10.254.0.0/24" },
    fabric: { ...e.fabric, numbered: true },
  });
  /** dev with a second leaf-1a - spine-1 link (leaf swp52, spine swp3). */
  const parallel = (): Estate => {
    const e = committedEstate("dev");
    return {
      ...e,
      switches: e.switches.map((s) =>
        s.name === "leaf-1a"
          ? { ...s, uplinks: [...s.uplinks, { spine: "spine-1", port: "swp52", spinePort: "swp3", speedGbps: 100 }] }
          : s,
      ),
    };
  };
  /** dev with srv-1 on leaf-1a twice (ens1f0 and ens2f0) and leaf-1b once. */
  const twoOnOneLeaf = (): Estate => {
    const e = committedEstate("dev");
    return {
      ...e,
      servers: e.servers.map((s) =>
        s.name === "srv-1"
          ? { ...s, uplinks: [...s.uplinks, { leaf: "leaf-1a", port: "swp7", nic: "ens2f0", speedGbps: 25 }] }
          : s,
      ),
    };
  };

  it("two parallel leaf-spine links: two links, two sessions each side, one /31 each", () => {
    for (const e of [parallel(), numbered(parallel())]) {
      const plan = planFabric(e);
      const between = plan.links.filter((l) => l.a.node === "leaf-1a" && l.b.node === "spine-1");
      assert.deepEqual(
        between.map((l) => [l.a.iface, l.b.iface]),
        [
          ["swp51", "swp1"],
          ["swp52", "swp3"],
        ],
      );
      const leaf = sessionsOf(plan, "leaf-1a").filter((x) => x.peer === "spine-1");
      const spine = sessionsOf(plan, "spine-1").filter((x) => x.peer === "leaf-1a");
      assert.deepEqual(
        leaf.map((x) => x.iface),
        ["swp51", "swp52"],
      );
      assert.deepEqual(
        spine.map((x) => x.iface),
        ["swp1", "swp3"],
      );
      const conf = renderFrrConf(frrInputFor(plan, e, "spine-1"));
      if (e.fabric.numbered) {
        assert.deepEqual(
          between.map((l) => [l.a.address, l.b.address]),
          [
            ["10.254.0.0/31", "10.254.0.1/31"],
            ["10.254.0.2/31", "10.254.0.3/31"],
          ],
        );
        assert.deepEqual(
          spine.map((x) => x.peerAddress),
          ["10.254.0.0", "10.254.0.2"],
        );
        for (const peer of ["10.254.0.0", "10.254.0.2"])
          assert.ok(conf.includes(` neighbor ${peer} peer-group fabric\n`), peer);
      } else {
        for (const iface of ["swp1", "swp3"])
          assert.ok(conf.includes(` neighbor ${iface} interface peer-group fabric\n`), iface);
      }
      assert.deepEqual(
        plan.oversubscription.find((o) => o.leaf === "leaf-1a"),
        { leaf: "leaf-1a", serverGbps: 75, spineGbps: 200, ratio: 0.38 },
      );
    }
  });

  it("more than one uplink from a server to one leaf: a session per link, the server's loopback filter once", () => {
    for (const e of [twoOnOneLeaf(), numbered(twoOnOneLeaf())]) {
      const plan = planFabric(e);
      assert.deepEqual(
        sessionsOf(plan, "srv-1").map((x) => [x.iface, x.peer]),
        [
          ["ens1f0", "leaf-1a"],
          ["ens1f1", "leaf-1b"],
          ["ens2f0", "leaf-1a"],
        ],
      );
      const onLeaf = sessionsOf(plan, "leaf-1a").filter((x) => x.peer === "srv-1");
      assert.deepEqual(
        onLeaf.map((x) => x.iface),
        ["swp1", "swp7"],
      );
      const conf = renderFrrConf(frrInputFor(plan, e, "leaf-1a"));
      const neighbors = onLeaf.map((x) => x.peerAddress ?? x.iface);
      assert.equal(new Set(neighbors).size, 2, "two distinct neighbors");
      for (const n of neighbors) assert.ok(conf.includes(`  neighbor ${n} prefix-list FROM-srv-1 in\n`), n);
      assert.equal(conf.split("ip prefix-list FROM-srv-1 seq 10 permit 10.111.0.64/32\n").length, 2, "defined once");
      assert.equal(plan.oversubscription.find((o) => o.leaf === "leaf-1a")!.serverGbps, 100);
    }
  });

  it("a leaf pair serving a neighbouring rack's server: the links are planned, the leaves keep their rack", () => {
    const e = committedEstate("dev");
    const moved: Estate = { ...e, servers: e.servers.map((s) => (s.name === "srv-3" ? { ...s, rack: "r2" } : s)) };
    const plan = planFabric(moved);
    assert.deepEqual(plan, planFabric(e), "a server's rack does not change the fabric");
    const out = fabricOutput(plan);
    assert.deepEqual(
      out.switches.map((s) => [s.name, s.role === "leaf" ? s.rack : "-"]),
      [
        ["spine-1", "-"],
        ["leaf-1a", "r1"],
        ["leaf-1b", "r1"],
      ],
    );
  });

  it("the fabric output says whether links are numbered and gives both ends' addresses", () => {
    const plain = fabricOutput(planFabric(committedEstate("dev")));
    assert.equal(plain.numbered, false);
    for (const l of plain.links) assert.ok(!("address" in l.a) && !("address" in l.b));
    const out = fabricOutput(planFabric(numbered(committedEstate("dev"))));
    assert.equal(out.numbered, true);
    assert.deepEqual(out.links[0], {
      a: { node: "leaf-1a", iface: "swp51", address: "10.254.0.0/31" },
      b: { node: "spine-1", iface: "swp1", address: "10.254.0.1/31" },
      speedGbps: 100,
    });
    assert.deepEqual(out.links[2], {
      // server links from the second quarter of the /24: .64 on
      a: { node: "srv-1", iface: "ens1f0", address: "10.254.0.64/31" },
      b: { node: "leaf-1a", iface: "swp1", address: "10.254.0.65/31" },
      speedGbps: 25,
    });
  });
});
