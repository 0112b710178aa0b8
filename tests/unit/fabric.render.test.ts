/**
 * FRR configs and apply scripts of the fabric, as plain functions: the exact lines that
 * matter, FRR's own syntax check (`vtysh -C`), and shellcheck on every script. Golden
 * files hold prod's spine-1, leaf-1a and ctl-1 and dev's numbered leaf-1a
 * (tests/golden/fabric/): after an intended change, rewrite them with
 * `UPDATE_GOLDEN=1 npx mocha tests/unit/fabric.render.test.ts` and review the diff.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { planFabric } from "../../components/fabric/plan";
import { frrInputFor } from "../../components/fabric/input";
import {
  FRR_CHECK,
  FRR_RELOAD,
  frrExporterService,
  renderFabricExporters,
  renderFrrConf,
  renderFrrDaemons,
} from "../../components/fabric/render";
import { renderExporterDropIn } from "../../components/node/render";
import { renderInstallFile } from "../../components/shared/remote";
import { parseEstate } from "../../config/validate";
import { edit, estateOf, rawConfig } from "../helpers/config";
import { execStartOf, freePort, listenOn, scrape, start } from "../helpers/exporters";
import { PROJECT_DIR } from "../helpers/plan";
import { checkScripts } from "../helpers/shellcheck";
import { requireTool } from "../helpers/tools";

const GOLDEN = path.join(PROJECT_DIR, "tests", "golden", "fabric");

function golden(name: string, text: string): void {
  const file = path.join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN) {
    fs.mkdirSync(GOLDEN, { recursive: true });
    fs.writeFileSync(file, text);
  }
  assert.equal(text, fs.readFileSync(file, "utf8"), `${name} differs from tests/golden/fabric/${name}`);
}

function estate(numbered = false) {
  let raw = rawConfig("dev");
  if (numbered) {
    raw = edit(raw, "pools", (p) => void (p.fabricLinks = "10.119.0.0/24"));
    raw = { ...raw, values: { ...raw.values, "estate:fabric": JSON.stringify({ numbered: true }) } };
  }
  const r = parseEstate(raw);
  if (!r.ok) throw new Error(r.problems.join("\n"));
  return r.estate;
}

function conf(node: string, numbered = false): string {
  const e = estate(numbered);
  return renderFrrConf(frrInputFor(planFabric(e), e, node));
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fabric-render-"));
function checkWith(cmd: string, args: string[], text: string, name: string): void {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, text);
  const r = spawnSync(cmd, [...args, file], { encoding: "utf8" });
  assert.equal(r.status, 0, `${cmd} ${name}:\n${r.stdout}${r.stderr}`);
}

describe("fabric renderers", () => {
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  describe("golden files", () => {
    const prod = estateOf("prod");
    const prodPlan = planFabric(prod);
    for (const node of ["spine-1", "leaf-1a", "ctl-1"])
      it(`prod ${node} frr.conf matches its golden file`, () =>
        golden(`prod-${node}.frr.conf`, renderFrrConf(frrInputFor(prodPlan, prod, node))));
    it("dev numbered leaf-1a frr.conf matches its golden file", () =>
      golden("dev-numbered-leaf-1a.frr.conf", conf("leaf-1a", true)));
    it("the daemons scripts of a switch and a server match their golden files", () => {
      golden("leaf-1a.frr-daemons.sh", renderFrrDaemons({ name: "leaf-1a", forwarding: true }));
      golden("ctl-1.frr-daemons.sh", renderFrrDaemons({ name: "ctl-1", forwarding: false }));
    });
    it("the exporters scripts of prod's leaf-1a and ctl-1 match their golden files", () => {
      for (const node of ["leaf-1a", "ctl-1"]) {
        const i = frrInputFor(prodPlan, prod, node);
        golden(`prod-${node}.exporters.sh`, renderFabricExporters({ name: node, kind: i.kind, loopback: i.loopback }));
      }
    });
  });

  describe("exporters", () => {
    const prod = estateOf("prod");
    const plan = planFabric(prod);
    const scriptOf = (node: string): string => {
      const i = frrInputFor(plan, prod, node);
      return renderFabricExporters({ name: node, kind: i.kind, loopback: i.loopback });
    };

    it("pass bash -n and shellcheck -S warning (a spine, a leaf, a server)", () => {
      assert.deepEqual(
        checkScripts(Object.fromEntries(["spine-1", "leaf-1a", "ctl-1"].map((n) => [n, scriptOf(n)]))),
        {},
      );
    });

    it("the FRR exporter everywhere, on the node's loopback :9342; the node exporter on switches only", () => {
      for (const n of plan.nodes) {
        const s = scriptOf(n.name);
        assert.ok(s.includes(`--web.listen-address=${n.loopback}:9342 `), n.name);
        assert.equal(
          s.includes(`--web.listen-address=${n.loopback}:9100 `),
          n.kind !== "server",
          `${n.name}: node exporter only on switches (servers: their baseline)`,
        );
      }
    });

    it("configures before installing, restarts only on a changed drop-in, and checks both FRR collectors", () => {
      const s = scriptOf("leaf-1a");
      const dropIn = "/etc/systemd/system/prometheus-frr-exporter.service.d/estate.conf";
      assert.ok(s.indexOf(`put_file 0644 '${dropIn}'`) < s.indexOf("apt-get install"));
      assert.match(s, new RegExp(`^if changed '${dropIn}'; then\n  systemctl restart 'prometheus-frr-exporter'$`, "m"));
      assert.match(
        s,
        /frr_collector_up\{collector="bfd"\} 1'\* && "\$metrics" == \*'frr_collector_up\{collector="bgp"\} 1'/,
      );
    });

    it("the planned flags run Debian's FRR exporter 1.1.4: BGP and BFD collectors, no OSPF", async function () {
      this.timeout(40000);
      requireTool("prometheus-frr-exporter", "prometheus-frr-exporter");
      const port = await freePort();
      const i = frrInputFor(plan, prod, "ctl-1");
      const planned = execStartOf(renderExporterDropIn(frrExporterService(i.loopback)));
      const { argv, was } = listenOn(planned, "--web.listen-address", port);
      console.log(`substituted: ${was} -> 127.0.0.1:${port}`);
      // No FRR runs here: both collectors report down, in the very line format the script
      // waits for with value 1 (a working vtysh and bgpd socket).
      const exporter = start(argv);
      try {
        const text = await scrape(`http://127.0.0.1:${port}/metrics`, 30000, exporter);
        const up = text.split("\n").filter((l) => l.startsWith("frr_collector_up"));
        assert.deepEqual(up.sort(), ['frr_collector_up{collector="bfd"} 0', 'frr_collector_up{collector="bgp"} 0']);
      } finally {
        exporter.stop();
      }
    });

    it("refuses a loopback that is not an IPv4 address", () => {
      assert.throws(
        () => renderFabricExporters({ name: "leaf-1a", kind: "leaf", loopback: "10.0.0.1 --web.config.file=/x" }),
        /is not an IPv4 address/,
      );
    });
  });

  it("a leaf: datacenter defaults, loopback on lo, one peer-group, unnumbered sessions with BFD, ECMP", () => {
    const c = conf("leaf-1a").split("\n");
    for (const line of [
      "frr defaults datacenter",
      "hostname leaf-1a",
      "interface lo",
      " ip address 10.111.0.2/32",
      "router bgp 65100",
      " bgp router-id 10.111.0.2",
      " bgp log-neighbor-changes",
      " bgp bestpath as-path multipath-relax",
      " neighbor fabric peer-group",
      " neighbor fabric remote-as external",
      " neighbor fabric bfd profile fabric",
      " neighbor swp51 interface peer-group fabric",
      " neighbor swp1 interface peer-group fabric",
      " neighbor swp3 interface peer-group fabric",
      "  network 10.111.0.2/32",
      "  maximum-paths 64",
      "  detect-multiplier 3",
      "  receive-interval 100",
      "  transmit-interval 100",
    ])
      assert.ok(c.includes(line), `missing: ${JSON.stringify(line)}`);
    assert.equal(c.filter((l) => / peer-group$/.test(l)).length, 1, "one peer-group");
    assert.equal(c.filter((l) => /^ neighbor \S+ interface peer-group fabric$/.test(l)).length, 4);
  });

  it("filters: only loopbacks and the estate's own prefixes, never a default route", () => {
    const c = conf("spine-1");
    assert.match(
      c,
      /ip prefix-list ESTATE seq 5 deny 0\.0\.0\.0\/0\nip prefix-list ESTATE seq 10 permit 10\.111\.0\.0\/24 ge 32\nip prefix-list ESTATE seq 20 permit 10\.120\.0\.0\/24 le 32\nip prefix-list ESTATE seq 30 permit 10\.142\.0\.0\/16 le 32\nip prefix-list ESTATE seq 40 permit 10\.143\.0\.0\/16 le 32\n/,
    );
    assert.match(c, /route-map FABRIC-IN permit 10\n match ip address prefix-list ESTATE\n/);
    assert.match(c, /route-map FABRIC-OUT permit 10\n match ip address prefix-list ESTATE\n/);
    assert.match(c, /neighbor fabric route-map FABRIC-IN in\n {2}neighbor fabric route-map FABRIC-OUT out/);
    assert.doesNotMatch(c, /default-originate|0\.0\.0\.0\/0 (le|ge)|permit 0\.0\.0\.0/);
  });

  it("a server peers with both leaves by interface and announces only its loopback", () => {
    const c = conf("srv-2");
    assert.match(c, /router bgp 4200000001\n/);
    assert.match(c, / neighbor ens1f0 interface peer-group fabric\n neighbor ens1f1 interface peer-group fabric\n/);
    assert.match(c, /ip prefix-list OWN-LOOPBACK seq 10 permit 10\.111\.0\.65\/32\n/);
    assert.match(c, /route-map FABRIC-OUT permit 10\n match ip address prefix-list OWN-LOOPBACK\n/);
    assert.match(c, / {2}network 10\.111\.0\.65\/32\n/);
    assert.match(c, / {2}maximum-paths 64\n/);
  });

  it("numbered: /31 on each fabric interface, neighbours by address", () => {
    const c = conf("leaf-1a", true);
    assert.match(c, /interface swp51\n description fabric link to spine-1\n ip address 10\.119\.0\.0\/31\nexit/);
    assert.match(c, / neighbor 10\.119\.0\.1 peer-group fabric\n/);
    assert.doesNotMatch(c, /interface peer-group/);
    const srv = conf("srv-1", true);
    assert.match(srv, /interface ens1f0\n description fabric link to leaf-1a\n ip address 10\.119\.0\.64\/31\n/);
    assert.match(srv, / neighbor 10\.119\.0\.65 peer-group fabric\n/);
  });

  it("is deterministic", () => {
    assert.equal(conf("leaf-1b"), conf("leaf-1b"));
  });

  it("passes FRR's syntax check (vtysh -C) for every node, unnumbered and numbered", function () {
    requireTool("vtysh", "frr");
    const e = estate();
    for (const n of [...e.switches, ...e.servers].map((x) => x.name))
      for (const numbered of [false, true])
        checkWith("vtysh", ["-C", "-f"], conf(n, numbered), `${n}-${numbered}.conf`);
  });

  it("the apply scripts pass bash -n and shellcheck -S warning", () => {
    assert.deepEqual(
      checkScripts({
        "daemons-switch.sh": renderFrrDaemons({ name: "leaf-1a", forwarding: true }),
        "daemons-server.sh": renderFrrDaemons({ name: "srv-1", forwarding: false }),
        "install.sh": `#!/bin/bash\n${renderInstallFile({ path: "/etc/frr/frr.conf", mode: "0640", owner: "frr:frr", check: FRR_CHECK, onChange: FRR_RELOAD })}\n`,
      }),
      {},
    );
  });

  it("a node name reaches the daemons script only as a single-quoted word", () => {
    const s = renderFrrDaemons({ name: "x$(touch /tmp/p)'\"", forwarding: false });
    assert.match(s, /^name='x\$\(touch \/tmp\/p\)'\\''"'$/m);
    assert.equal(s.split("touch /tmp/p").length, 2, "only in the assignment");
  });

  it("enables bgpd and bfdd idempotently and restarts FRR only when the daemons file changed", () => {
    const s = renderFrrDaemons({ name: "leaf-1a", forwarding: true });
    assert.match(s, /^#!\/bin\/bash\n/);
    assert.match(s, /\nset -euo pipefail\n/);
    assert.match(s, /for d in bgpd bfdd; do/);
    assert.match(s, /if \[\[ "\$changed" -eq 1 \]\]; then\n {2}systemctl restart frr\n/);
    assert.match(s, /net\.ipv4\.ip_forward = 1/);
    assert.doesNotMatch(renderFrrDaemons({ name: "srv-1", forwarding: false }), /ip_forward/);
  });

  it("reloads with frr-reload.py and restarts FRR when a reload fails half-way", () => {
    assert.equal(FRR_CHECK, 'vtysh -C -f "$new" >/dev/null');
    assert.match(FRR_RELOAD, /\nelif ! \/usr\/lib\/frr\/frr-reload\.py --reload \/etc\/frr\/frr\.conf; then\n/);
    assert.match(FRR_RELOAD, /^if \[\[ ! -x \/usr\/lib\/frr\/frr-reload\.py \]\]; then\n/);
    assert.match(FRR_RELOAD, /\n {2}systemctl restart frr\n/);
  });
});
