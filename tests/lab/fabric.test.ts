/**
 * The fabric, live: for `dev`, `prod` and a synthetic two-rack estate, the planned FRR
 * configs run in real zebra/bfdd/bgpd inside network namespaces (see fabric-lab.ts for
 * what differs from a host: only file and socket paths, given as daemon flags).
 *
 * Needs root and Debian's frr, iproute2, nftables and iputils-ping; installs them when it
 * can (root with apt-get), otherwise fails with what to install. Never skips.
 *
 * Figures (stdout): `figure fabric.<topology>.convergence <ms> ms` (daemon start to all
 * sessions Established, BFD up, both uplinks in every server's routes), and
 * `figure fabric.<topology>.<leaf|spine>_blackhole.<bfd|nobfd> <ms> ms`: the largest gap
 * between replies of a 10 ms ping flow when the leaf (or spine) carrying it fails
 * silently. Without BFD the spine case is measured on the synthetic estate only (dev and
 * prod have one rack: no flow crosses a spine between racks), and the leaf case on each.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { writeSynthStack } from "../../tools/synth";
import { planStack, PROJECT_DIR } from "../helpers/plan";
import { cleanupStale, FabricLab, type FabricTopology, withoutBfd } from "./fabric-lab";

const PACKAGES = "frr iproute2 nftables iputils-ping";
const TOOLS: [string, string][] = [
  ["/usr/lib/frr/zebra", "frr"],
  ["/usr/lib/frr/bgpd", "frr"],
  ["/usr/lib/frr/bfdd", "frr"],
  ["vtysh", "frr"],
  ["ip", "iproute2"],
  ["nft", "nftables"],
  ["ping", "iputils-ping"],
];

function have(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

/** Root and the packages, installing them when possible; otherwise an error naming them. */
function ensureLabHost(): void {
  if (process.getuid?.() !== 0)
    throw new Error(`the fabric lab needs root (network namespaces) and Debian packages: ${PACKAGES}`);
  const missing = () => TOOLS.filter(([cmd]) => !have(cmd)).map(([, pkg]) => pkg);
  if (missing().length && have("apt-get")) {
    // Package scripts must not start FRR in the host namespace (no systemd here).
    if (!fs.existsSync("/usr/sbin/policy-rc.d"))
      fs.writeFileSync("/usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n", { mode: 0o755 });
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    spawnSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
    spawnSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...new Set(missing())], {
      stdio: "inherit",
      env,
    });
  }
  const still = [...new Set(missing())];
  if (still.length)
    throw new Error(`the fabric lab needs Debian packages ${still.join(" ")}: apt-get install ${PACKAGES}`);
}

interface Topology {
  readonly name: string;
  readonly fabric: FabricTopology;
  readonly confs: Map<string, string>;
}

function topology(name: string, stack: string, stackFile?: string): Topology {
  const p = planStack(stack, stackFile);
  const fabric = p.outputs.fabric as FabricTopology;
  const confs = new Map(p.ofKind("frr").map((e) => [e.target, p.artifact(e.path)]));
  return { name, fabric, confs };
}

function figure(name: string, ms: number): void {
  console.log(`figure ${name} ${ms} ms`);
}

/** Servers by rack, from the links: servers sharing a leaf share a rack. */
function racksOf(f: FabricTopology): string[][] {
  const leafOf = new Map<string, string>();
  for (const l of f.links) if (f.servers.some((s) => s.name === l.a.node)) leafOf.set(l.a.node, l.b.node);
  const byLeaf = new Map<string, string[]>();
  for (const s of f.servers) byLeaf.set(leafOf.get(s.name)!, [...(byLeaf.get(leafOf.get(s.name)!) ?? []), s.name]);
  return [...byLeaf.values()];
}

const BFD_LIMIT_MS = 500;

describe("fabric lab: planned FRR configs in real daemons, BGP + BFD, silent failures", function () {
  this.timeout(240000);
  const synthDir = fs.mkdtempSync(path.join(os.tmpdir(), "fabric-synth-"));
  let labs: FabricLab[] = [];

  // Interrupted runs (Ctrl-C, a CI timeout) tear down too; a later run also removes namespaces of dead runs.
  const onSignal = (sig: NodeJS.Signals) => {
    for (const lab of labs) lab.teardown();
    process.exit(sig === "SIGINT" ? 130 : 143);
  };

  before(function () {
    ensureLabHost();
    cleanupStale();
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
  });
  after(function () {
    for (const lab of labs) lab.teardown();
    labs = [];
    fs.rmSync(synthDir, { recursive: true, force: true });
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  });

  const cases: [string, () => Topology][] = [
    ["dev", () => topology("dev", "dev")],
    ["prod", () => topology("prod", "prod")],
    [
      "synth",
      () => {
        const file = path.join(synthDir, "Pulumi.fabsynth.yaml");
        writeSynthStack(file, 6, 2, 2); // 2 racks, 4 leaves, 2 spines, 6 servers
        return topology("synth", "fabsynth", file);
      },
    ],
    [
      // Numbered links (/31s from pools.fabricLinks) on the dev topology: sessions, BFD and reachability only.
      "dev-numbered",
      () => {
        const doc = yaml.load(fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.dev.yaml"), "utf8")) as {
          config: Record<string, Record<string, unknown>>;
        };
        doc.config["estate:pools"] = { ...doc.config["estate:pools"], fabricLinks: "10.119.0.0/24" };
        doc.config["estate:fabric"] = { ...doc.config["estate:fabric"], numbered: true };
        const file = path.join(synthDir, "Pulumi.fabdevnum.yaml");
        fs.writeFileSync(file, yaml.dump(doc));
        return topology("dev-numbered", "fabdevnum", file);
      },
    ],
  ];

  for (const [name, load] of cases)
    describe(name, function () {
      const numbered = name.endsWith("-numbered");
      let t: Topology;
      let lab: FabricLab;
      let racks: string[][];

      before(function () {
        t = load();
        racks = racksOf(t.fabric);
        lab = new FabricLab(name, t.fabric);
        labs.push(lab);
        lab.build();
        const started = Date.now();
        lab.start(t.confs);
        figure(`fabric.${name}.convergence`, lab.waitConverged(started));
      });
      after(function () {
        lab.teardown();
        labs = labs.filter((l) => l !== lab);
      });

      it("loads one planned frr.conf per switch and server", function () {
        const nodes = [...t.fabric.switches, ...t.fabric.servers].map((n) => n.name).sort();
        assert.deepEqual([...t.confs.keys()].sort(), nodes);
      });

      it("has every BGP session Established and a BFD peer up on every session", function () {
        assert.deepEqual(lab.problems(), []);
        for (const l of t.fabric.links)
          for (const [end, other] of [
            [l.a, l.b],
            [l.b, l.a],
          ]) {
            if (numbered) continue; // peers by address: counted per node below
            const peers = lab.bfdPeers(end.node).filter((p) => p.interface === end.iface);
            assert.equal(peers.length, 1, `${end.node} ${end.iface} (to ${other.node}): one BFD peer`);
            assert.equal(peers[0].status, "up", `${end.node} ${end.iface} (to ${other.node}): BFD up`);
            // The profile of the planned config is what runs.
            const conf = t.confs.get(end.node)!;
            const want = (k: string) => Number(new RegExp(`^  ${k} (\\d+)$`, "m").exec(conf)?.[1]);
            for (const k of ["receive-interval", "transmit-interval", "detect-multiplier"])
              assert.equal(peers[0][k as keyof (typeof peers)[0]], want(k), `${end.node} ${end.iface}: BFD ${k}`);
          }
      });

      if (numbered)
        it("numbered: one BFD peer up per session on every node", function () {
          for (const n of [...t.fabric.switches, ...t.fabric.servers]) {
            const sessions = t.fabric.links.filter((l) => l.a.node === n.name || l.b.node === n.name).length;
            const peers = lab.bfdPeers(n.name);
            assert.equal(peers.length, sessions, `${n.name}: BFD peers`);
            assert.deepEqual(
              peers.filter((p) => p.status !== "up").map((p) => p.peer),
              [],
            );
          }
        });

      it("every server loopback reaches every other; servers use both uplinks (ECMP)", function () {
        assert.deepEqual(lab.unreachablePairs(), []);
        // problems() above already required two next hops from every server to every other.
      });

      if (!numbered)
        it("a leaf refuses a server announcing another server's loopback (no hijack)", async function () {
          // Server A drops its own outbound filter and announces B's loopback; the leaves
          // must keep reaching B only through B.
          const [a, b] = lab.servers;
          const asnA = t.fabric.servers.find((x) => x.name === a)!.asn;
          const victim = lab.loopback.get(b)!;
          const hijack = [
            `router bgp ${asnA}`,
            "address-family ipv4 unicast",
            "no neighbor fabric route-map FABRIC-OUT out",
            `network ${victim}/32`,
          ];
          const undo = [
            `router bgp ${asnA}`,
            "address-family ipv4 unicast",
            `no network ${victim}/32`,
            "neighbor fabric route-map FABRIC-OUT out",
          ];
          const leaves = t.fabric.links.filter((l) => l.a.node === a).map((l) => l.b);
          try {
            // B's address on A's loopback: a route A's BGP can announce.
            lab.exec(a, "ip", ["addr", "add", `${victim}/32`, "dev", "lo"]);
            lab.configure(a, hijack);
            lab.vtysh(a, "clear bgp ipv4 unicast * soft out");
            let sent = false;
            for (let i = 0; i < 40 && !sent; i++) {
              await new Promise((r) => setTimeout(r, 100));
              sent = leaves.every((l) => {
                const out = JSON.parse(
                  lab.vtysh(
                    a,
                    `show bgp ipv4 unicast neighbors ${t.fabric.links.find((x) => x.a.node === a && x.b.node === l.node)!.a.iface} advertised-routes json`,
                  ),
                ) as { advertisedRoutes?: Record<string, unknown> };
                return !!out.advertisedRoutes?.[`${victim}/32`];
              });
            }
            assert.ok(sent, `${a} advertises ${victim}/32 (the hijack attempt is real)`);
            await new Promise((r) => setTimeout(r, 1000));
            for (const l of leaves) {
              const bgp = JSON.parse(lab.vtysh(l.node, `show bgp ipv4 unicast ${victim}/32 json`)) as {
                paths?: { aspath?: { string?: string } }[];
              };
              const viaA = (bgp.paths ?? []).filter((p) => (p.aspath?.string ?? "").split(" ")[0] === String(asnA));
              assert.deepEqual(viaA, [], `${l.node} accepted ${victim}/32 from ${a}`);
            }
          } finally {
            lab.configure(a, undo);
            lab.exec(a, "ip", ["addr", "del", `${victim}/32`, "dev", "lo"]);
            lab.vtysh(a, "clear bgp ipv4 unicast * soft out");
          }
          let broken = lab.unreachablePairs();
          for (let i = 0; i < 50 && broken.length; i++) {
            await new Promise((r) => setTimeout(r, 200));
            broken = lab.unreachablePairs();
          }
          assert.deepEqual(broken, [], "the fabric is whole again");
        });

      it("each leaf reaches remote servers and the other leaves over every spine (ECMP)", function () {
        const want = Math.min(2, lab.spines.length);
        for (const leaf of lab.leaves) {
          const attached = new Set(t.fabric.links.filter((l) => l.b.node === leaf).map((l) => l.a.node));
          const routes = lab.routes(leaf);
          const remote = [...lab.servers.filter((s) => !attached.has(s)), ...lab.leaves.filter((l) => l !== leaf)];
          for (const r of remote)
            assert.ok(
              (routes.get(lab.loopback.get(r)!) ?? 0) >= want,
              `${leaf} -> ${r}: ${routes.get(lab.loopback.get(r)!) ?? 0} next hops, want >= ${want}`,
            );
        }
      });

      if (!numbered) {
        it(`a leaf carrying a server-to-server flow fails silently: outage under ${BFD_LIMIT_MS} ms with BFD, nobody cut off`, async function () {
          const [src, dst] = racks[0];
          const o = await lab.outage(src, dst, lab.leaves, 2000);
          figure(`fabric.${name}.leaf_blackhole.bfd`, o.gapMs);
          assert.ok(o.gapMs < BFD_LIMIT_MS, `${o.failed} failed: outage ${o.gapMs} ms`);
          assert.deepEqual(lab.unreachablePairs(), [], `with ${o.failed} down`);
          const since = Date.now();
          lab.restore(o.failed);
          lab.waitConverged(since);
        });

        it("a spine carrying an inter-rack flow fails silently: outage under 500 ms with BFD (two racks or more)", async function () {
          if (racks.length < 2 || lab.spines.length < 2) {
            // One rack: no server-to-server flow crosses a spine, so there is nothing to measure.
            assert.equal(name === "synth", false, "the synthetic estate must have two racks and two spines");
            return;
          }
          const o = await lab.outage(racks[0][0], racks[1][0], lab.spines, 2000);
          figure(`fabric.${name}.spine_blackhole.bfd`, o.gapMs);
          assert.ok(o.gapMs < BFD_LIMIT_MS, `${o.failed} failed: outage ${o.gapMs} ms`);
          assert.deepEqual(lab.unreachablePairs(), [], `with ${o.failed} down`);
        });

        it("without BFD (a copy of the configs), the same failures take the BGP hold time", async function () {
          lab.stopDaemons();
          const copies = new Map([...t.confs].map(([n, c]) => [n, withoutBfd(c)]));
          for (const c of copies.values()) assert.doesNotMatch(c, /bfd/);
          const started = Date.now();
          lab.start(copies);
          lab.waitConverged(started);
          const [src, dst] = racks[0];
          const leaf = await lab.outage(src, dst, lab.leaves, 11000);
          figure(`fabric.${name}.leaf_blackhole.nobfd`, leaf.gapMs);
          if (racks.length >= 2 && lab.spines.length >= 2) {
            // The failed leaf stays down: the flow from the other rack reaches racks[0] through its other leaf.
            const spine = await lab.outage(racks[1][0], racks[0][0], lab.spines, 11000);
            figure(`fabric.${name}.spine_blackhole.nobfd`, spine.gapMs);
            assert.ok(spine.gapMs > BFD_LIMIT_MS, `without BFD a silent spine failure is noticed by the hold timer`);
          }
          assert.ok(leaf.gapMs > BFD_LIMIT_MS, `without BFD a silent leaf failure is noticed by the hold timer`);
        });
      }
    });
});
