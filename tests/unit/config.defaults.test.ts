/**
 * Defaults and derived values of the model: what a stack gets when it leaves a key out,
 * and how loopbacks and ASNs are allocated.
 */
import { strict as assert } from "assert";
import fc from "fast-check";
import { inPool } from "../../config/allocate";
import type { Estate } from "../../config/model";
import { synthesize, syntheticHostKey } from "../../tools/synth-estate";
import { parseEstate, type RawConfig } from "../../config/validate";
import { edit, rawConfig } from "../helpers/config";

function model(raw: RawConfig): Estate {
  const r = parseEstate(raw);
  if (!r.ok) throw new Error(r.problems.join("\n"));
  return r.estate;
}

function synthRaw(servers: number, racks: number, spines: number): RawConfig {
  const cfg = synthesize({ servers, racks, spines });
  const dev = rawConfig("dev");
  const values: Record<string, string> = {};
  // Keep the project-wide versions and the (placeholder) secrets; the rest is the synthetic estate.
  for (const k of ["estate:versions", ...dev.secretKeys]) values[k] = dev.values[k];
  for (const [k, v] of Object.entries(cfg)) values[k] = JSON.stringify(v);
  return { stack: "synth", values, secretKeys: dev.secretKeys };
}

describe("config validation: defaults", () => {
  it("fills every documented default when the keys are left out", () => {
    const raw = rawConfig("dev");
    const values = { ...raw.values };
    for (const k of [
      "estate:ssh",
      "estate:node",
      "estate:fabric",
      "estate:kubernetes",
      "estate:ceph",
      "estate:monitoring",
      "estate:mesh",
    ])
      delete values[k];
    const e = model({ ...raw, values });
    assert.deepEqual(e.servers[0].ssh, {
      host: "10.110.0.101",
      port: 22,
      user: "estate",
      hostKey: e.servers[0].ssh.hostKey,
    });
    assert.deepEqual(e.node, {
      requireSecureBoot: true,
      requireTpm: true,
      rpFilter: "loose",
      memoryTolerancePercent: 6,
      extraPackages: [],
    });
    assert.deepEqual(e.fabric, {
      asns: { spine: 65000, leafBase: 65100, serverBase: 4200000000 },
      numbered: false,
      bfd: { intervalMs: 100, multiplier: 3 },
      maximumPaths: 64,
      oversubscriptionLimit: 3,
    });
    assert.deepEqual(e.kubernetes, {
      highAvailability: true,
      ingressNodePorts: { https: 30443, http: 30080 },
      k3s: { url: "https://github.com/k3s-io/k3s/releases/download" },
      apiEndpoint: {},
      etcdSnapshots: { schedule: "0 */6 * * *", retention: 28 },
      agentBatchPercent: 25,
      applicationNamespaces: ["apps"],
    });
    assert.deepEqual(e.ceph, {
      highAvailability: true,
      replicas: 3,
      minSize: 2,
      protect: false,
      allowDataDeletion: false,
      coldTier: { enabled: true, bucket: "estate-backups", user: "estate-backup" },
    });
    // `alerts` (the rules' thresholds) is checked with the rules.
    const monitoring = Object.fromEntries(Object.entries(e.monitoring).filter(([k]) => k !== "alerts"));
    assert.deepEqual(monitoring, {
      scrapeInterval: "30s",
      evaluationInterval: "60s",
      retention: { time: "15d", size: "40GiB" },
      volumes: { prometheus: "50Gi", alertmanager: "2Gi", grafana: "10Gi" },
      alertmanager: { receivers: [], routes: [], groupWait: "30s", groupInterval: "5m", repeatInterval: "4h" },
    });
    assert.deepEqual(e.mesh, { istiod: { replicas: 2, maxReplicas: 5 }, mirrors: [] });
    assert.equal(e.site.timezone, "UTC");
  });

  it("lets a host override the SSH user and port", () => {
    // Ceph hosts share one SSH user (cephadm's), so the user is overridden on every one of them.
    const e = model(
      edit(rawConfig("dev"), "servers", (s) => {
        for (const sv of s) sv.ssh = { user: "root" };
        s[2].ssh.port = 2222;
      }),
    );
    assert.equal(e.servers[2].ssh.user, "root");
    assert.equal(e.servers[2].ssh.port, 2222);
    assert.equal(e.servers[1].ssh.port, 22);
  });

  it("allocates loopbacks and ASNs: spines share one ASN, leaves and servers each their own", () => {
    const e = model(rawConfig("prod"));
    assert.deepEqual(
      e.switches.map((s) => [s.name, s.asn, s.loopback]),
      [
        ["spine-1", 65000, "10.255.0.1"],
        ["spine-2", 65000, "10.255.0.2"],
        ["leaf-1a", 65100, "10.255.0.3"],
        ["leaf-1b", 65101, "10.255.0.4"],
      ],
    );
    assert.deepEqual(
      e.servers.slice(0, 3).map((s) => [s.name, s.asn, s.loopback]),
      [
        ["lb-1", 4200000000, "10.255.0.64"],
        ["lb-2", 4200000001, "10.255.0.65"],
        ["ctl-1", 4200000002, "10.255.0.66"],
      ],
    );
  });

  it("keeps every loopback unique and inside its pool, for any generated estate", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 6, max: 300 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 4 }),
        (servers, racks, spines) => {
          const e = model(synthRaw(servers, Math.min(racks, servers), spines));
          const all = [...e.switches, ...e.servers];
          const loopbacks = all.map((n) => n.loopback);
          assert.equal(new Set(loopbacks).size, loopbacks.length);
          for (const l of loopbacks) assert.ok(inPool(l, e.pools.loopbacks), `${l} in ${e.pools.loopbacks}`);
          const asns = [...e.switches.filter((s) => s.role === "leaf"), ...e.servers].map((n) => n.asn);
          assert.equal(new Set(asns).size, asns.length, "leaf and server ASNs are unique");
          assert.equal(new Set(e.switches.filter((s) => s.role === "spine").map((s) => s.asn)).size, 1);
        },
      ),
      { numRuns: 40, seed: 7 },
    );
  });

  it("keeps pinned loopbacks and ASNs when a server above is removed", () => {
    const pinned = edit(rawConfig("prod"), "servers", (s) => {
      for (const [i, x] of s.entries()) {
        x.loopback = `10.255.0.${64 + i}`;
        x.asn = 4200000000 + i;
      }
    });
    const before = model(pinned);
    const after = model(
      edit(pinned, "servers", (s) => {
        // Remove wrk-3 (and give up its cabling); the hosts after it keep their numbers.
        s.splice(
          s.findIndex((x: { name: string }) => x.name === "wrk-3"),
          1,
        );
      }),
    );
    for (const s of after.servers) {
      const b = before.servers.find((x) => x.name === s.name)!;
      assert.deepEqual([s.loopback, s.asn], [b.loopback, b.asn], s.name);
    }
    const osd1 = after.servers.find((x) => x.name === "osd-1")!;
    assert.deepEqual([osd1.loopback, osd1.asn], ["10.255.0.72", 4200000008]);
  });

  it("never renumbers an existing host when servers or switches are appended", () => {
    const base = rawConfig("prod");
    const before = model(base);
    const appended = edit(
      edit(base, "servers", (s) => {
        const extra = JSON.parse(JSON.stringify(s[7]));
        extra.name = "wrk-9";
        extra.mgmtAddress = "10.10.0.199";
        extra.hostKey = syntheticHostKey("wrk-9");
        extra.uplinks = [
          { leaf: "leaf-1a", port: "swp40", nic: "ens1f0" },
          { leaf: "leaf-1b", port: "swp40", nic: "ens1f1" },
        ];
        extra.hardware.disks = extra.hardware.disks.map((d: { serial?: string }) => ({ ...d, serial: `${d.serial}X` }));
        s.push(extra);
      }),
      "switches",
      (s) => {
        s.push({ ...s[1], name: "spine-3", mgmtAddress: "10.10.0.4", hostKey: syntheticHostKey("spine-3") });
        delete s[s.length - 1].rack;
        s[s.length - 1].role = "spine";
        s[s.length - 1].uplinks = [];
        for (const leaf of s.filter((x: { role: string }) => x.role === "leaf"))
          leaf.uplinks.push({
            spine: "spine-3",
            port: "swp53",
            spinePort: leaf.name === "leaf-1a" ? "swp1" : "swp2",
            speedGbps: 400,
          });
      },
    );
    const after = model(appended);
    for (const s of before.servers) {
      const a = after.servers.find((x) => x.name === s.name)!;
      assert.equal(a.loopback, s.loopback, s.name);
      assert.equal(a.asn, s.asn, s.name);
    }
    for (const s of before.switches) {
      const a = after.switches.find((x) => x.name === s.name)!;
      assert.equal(a.loopback, s.loopback, s.name);
      assert.equal(a.asn, s.asn, s.name);
    }
  });
});
