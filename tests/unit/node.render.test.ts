/**
 * The node renderers as plain functions. The preflight is read-only, so it also runs
 * for real on this machine: against an inventory that matches it, and one that does not.
 * Golden files hold prod's ctl-1 and lb-1 scripts (tests/golden/node/): after an
 * intended change, rewrite them with `UPDATE_GOLDEN=1 npx mocha tests/unit/node.render.test.ts`
 * and review the diff.
 */
import { strict as assert } from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { baselineInputFor, networkInputFor, preflightInputFor } from "../../components/node/input";
import { TEXTFILE_DIR } from "../../components/monitoring/conventions";
import {
  type BaselineInput,
  exporterDropInPath,
  nodeExporterService,
  renderExporterDropIn,
  renderNetwork,
  type PreflightInput,
  renderBaseline,
  renderBaselineDelete,
  renderPreflight,
} from "../../components/node/render";
import { estateOf } from "../helpers/config";
import { PROJECT_DIR } from "../helpers/plan";
import { execStartOf, freePort, listenOn, metricNames, scrape, start } from "../helpers/exporters";
import { checkScripts } from "../helpers/shellcheck";
import { requireTool } from "../helpers/tools";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "estate-node-render-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, text);
  return f;
}

/** bash -n and shellcheck -S warning find nothing in any of `texts`. */
function clean(texts: Record<string, string>): void {
  assert.deepEqual(checkScripts(texts), {});
}

const GOLDEN = path.join(PROJECT_DIR, "tests", "golden", "node");

function golden(name: string, text: string): void {
  const file = path.join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN) {
    fs.mkdirSync(GOLDEN, { recursive: true });
    fs.writeFileSync(file, text);
  }
  assert.equal(text, fs.readFileSync(file, "utf8"), `${name} differs from tests/golden/node/${name}`);
}

/** What this machine actually has, read the way an operator would fill the inventory. */
function thisMachine(): PreflightInput {
  const lscpu = (cols: string): number =>
    new Set(
      execFileSync("lscpu", [`-p=${cols}`], { encoding: "utf8" })
        .split("\n")
        .filter((l) => l && !l.startsWith("#")),
    ).size;
  const memKiB = Number(/MemTotal:\s+(\d+)/.exec(fs.readFileSync("/proc/meminfo", "utf8"))?.[1]);
  return {
    host: "this-machine",
    hardware: {
      sockets: lscpu("SOCKET"),
      cores: lscpu("SOCKET,CORE"),
      memoryGiB: Math.ceil(memKiB / 1048576),
      disks: [],
      nics: [],
    },
    requireSecureBoot: false,
    requireTpm: false,
    memoryTolerancePercent: 6,
  };
}

/** prod's ctl-1 (a K3s server and Ceph monitor), derived from the committed stack. */
const prod = estateOf("prod");
const baseline: BaselineInput = baselineInputFor(
  prod.servers.find((s) => s.name === "ctl-1")!,
  prod,
);

describe("node renderers", () => {
  it("node and fabric renderers import no config module (input.ts adapts the model)", () => {
    for (const f of ["components/node/render.ts", "components/fabric/render.ts"]) {
      const imports = fs.readFileSync(path.join(PROJECT_DIR, f), "utf8").match(/^import .* from "[^"]+";$/gm) ?? [];
      assert.deepEqual(
        imports.filter((l) => /config\//.test(l)),
        [],
        f,
      );
      assert.ok(imports.length > 0, f);
    }
  });

  describe("golden files: prod ctl-1 and lb-1", () => {
    for (const host of ["ctl-1", "lb-1"]) {
      const server = prod.servers.find((s) => s.name === host)!;
      const scripts = {
        [`prod-${host}.preflight.sh`]: renderPreflight(preflightInputFor(server, prod)),
        [`prod-${host}.network.sh`]: renderNetwork(networkInputFor(server, prod)),
        [`prod-${host}.baseline.sh`]: renderBaseline(baselineInputFor(server, prod)),
      };
      for (const [name, text] of Object.entries(scripts))
        it(`${name} matches its golden file`, () => golden(name, text));
      it(`prod ${host}'s scripts pass bash -n and shellcheck`, () => clean(scripts));
    }
  });

  describe("preflight", () => {
    it("passes shellcheck and bash -n", () => {
      clean({ "preflight.sh": renderPreflight(thisMachine()) });
    });

    it("succeeds on a machine that matches its inventory and prints the facts as JSON", () => {
      const input = thisMachine();
      const out = execFileSync("bash", [write("match.sh", renderPreflight(input))], { encoding: "utf8" });
      const facts = JSON.parse(out);
      assert.equal(facts.host, "this-machine");
      assert.equal(facts.sockets, input.hardware.sockets);
      assert.equal(facts.cores, input.hardware.cores);
      assert.deepEqual(facts.problems, []);
      assert.ok(Array.isArray(facts.lsblk.blockdevices), "lsblk facts present");
    });

    it("fails naming the host and every mismatch", () => {
      const input = thisMachine();
      const wrong: PreflightInput = {
        ...input,
        requireTpm: true,
        hardware: {
          ...input.hardware,
          cores: input.hardware.cores + 62,
          memoryGiB: input.hardware.memoryGiB * 2,
          disks: [{ path: "/dev/disk/by-id/nvme-NOT_HERE_1", class: "nvme", use: "osd" }],
          nics: [{ name: "ens9f9", speedGbps: 100 }],
        },
      };
      const r = spawnSync("bash", [write("mismatch.sh", renderPreflight(wrong))], { encoding: "utf8" });
      assert.equal(r.status, 1);
      const lines = r.stderr.trim().split("\n");
      assert.equal(lines[0], "preflight this-machine: 5 mismatch(es) between this machine and the inventory:");
      assert.deepEqual(lines.slice(1, 6), [
        `  - cpu: ${input.hardware.cores} physical core(s), inventory says ${input.hardware.cores + 62}`,
        lines[2], // memory: checked below, its numbers depend on this machine
        "  - disk /dev/disk/by-id/nvme-NOT_HERE_1: not present",
        "  - nic ens9f9: not present",
        lines[5], // tpm: depends on this machine, checked below
      ]);
      assert.match(lines[2], /^ {2}- memory: \d+ GiB usable, inventory says \d+ GiB installed/);
      assert.match(
        lines[5],
        /^ {2}- tpm: \S+; this stack requires a TPM 2\.0 \(or set estate:node\.requireTpm false\)$/,
      );
      // The facts still come out, with the same problems, for the operator's records.
      assert.equal(JSON.parse(r.stdout).problems.length, 5);
    });
  });

  describe("network", () => {
    const prod = estateOf("prod");
    const lb = prod.servers.find((s) => s.name === "lb-1")!;

    it("passes shellcheck and bash -n, with and without a front-tier gateway", () => {
      const gw = { ...prod, frontend: { ...prod.frontend, gateway: "10.20.0.1" } };
      clean({
        "network.sh": renderNetwork(networkInputFor(lb, prod)),
        "network-gw.sh": renderNetwork(networkInputFor(lb, gw)),
      });
    });

    it("routes replies from the front-tier segment through its gateway (policy routing, table 120)", () => {
      const gw = { ...prod, frontend: { ...prod.frontend, gateway: "10.20.0.1" } };
      const text = renderNetwork(networkInputFor(lb, gw));
      assert.match(text, /\[RoutingPolicyRule\]\nFrom=10\.20\.0\.0\/24\nTable=120\n/);
      assert.match(text, /\[Route\]\nGateway=10\.20\.0\.1\nTable=120\n/);
      assert.doesNotMatch(renderNetwork(networkInputFor(lb, prod)), /^\[RoutingPolicyRule\]$/m, "no gateway, no rule");
    });

    it("gives servers without role lb only their link-local uplinks", () => {
      const ctl = prod.servers.find((s) => s.name === "ctl-1")!;
      const text = renderNetwork(networkInputFor(ctl, prod));
      assert.doesNotMatch(text, /^Address=/m);
      assert.match(text, /^ *networkctl reconfigure 'ens1f0' 'ens1f1'$/m);
    });
  });

  describe("baseline", () => {
    it("passes shellcheck and bash -n for every role mix", () => {
      const texts: Record<string, string> = {};
      for (const kubernetes of [true, false])
        for (const balancer of [true, false])
          for (const sshUser of ["estate", "root"])
            texts[`baseline-${kubernetes}-${balancer}-${sshUser}.sh`] = renderBaseline({
              ...baseline,
              kubernetes,
              balancer,
              sshUser,
            });
      clean(texts);
    });

    it("never turns reverse-path filtering off: loose (2) or strict (1)", () => {
      assert.match(renderBaseline(baseline), /^net\.ipv4\.conf\.all\.rp_filter = 2$/m);
      assert.match(renderBaseline(baseline), /^net\.ipv4\.conf\.default\.rp_filter = 2$/m);
      const strict = renderBaseline({ ...baseline, rpFilter: "strict" });
      assert.match(strict, /^net\.ipv4\.conf\.all\.rp_filter = 1$/m);
      for (const text of [renderBaseline(baseline), strict]) assert.doesNotMatch(text, /rp_filter = 0/);
    });

    it("forwards and turns swap off only on Kubernetes nodes; lets balancers bind the VIP", () => {
      const k8s = renderBaseline(baseline);
      assert.match(k8s, /^net\.ipv4\.ip_forward = 1$/m);
      assert.match(k8s, /^swapoff -a$/m);
      assert.match(k8s, /^net\.bridge\.bridge-nf-call-iptables = 1$/m);
      assert.doesNotMatch(k8s, /ip_nonlocal_bind/);
      const lb = renderBaseline({ ...baseline, kubernetes: false, balancer: true });
      assert.match(lb, /^net\.ipv4\.ip_forward = 0$/m);
      assert.doesNotMatch(lb, /swapoff/);
      assert.match(lb, /^net\.ipv4\.ip_nonlocal_bind = 1$/m);
    });

    it("hardens sshd in a drop-in that sorts first, validated before reload", () => {
      const text = renderBaseline(baseline);
      assert.match(text, /put_file 0644 \/etc\/ssh\/sshd_config\.d\/00-estate-hardening\.conf/);
      for (const line of ["PasswordAuthentication no", "KbdInteractiveAuthentication no", "PermitRootLogin no"])
        assert.match(text, new RegExp(`^${line}$`, "m"));
      assert.ok(text.indexOf("sshd -t") < text.indexOf("systemctl reload ssh"), "validate, then reload");
      assert.match(renderBaseline({ ...baseline, sshUser: "root" }), /^PermitRootLogin prohibit-password$/m);
    });

    it("feeds files through temporary files, never process substitution (whose failures escape set -e)", () => {
      assert.doesNotMatch(renderBaseline(baseline), /< <\(/);
    });

    it("spreads flows over both uplinks: multipath hash on addresses and ports", () => {
      assert.match(renderBaseline(baseline), /^net\.ipv4\.fib_multipath_hash_policy = 1$/m);
      assert.match(renderBaseline(baseline), /^net\.ipv6\.fib_multipath_hash_policy = 1$/m);
    });

    it("uses only the configured time servers", () => {
      const text = renderBaseline(baseline);
      assert.match(text, /^server 10\.10\.0\.250 iburst\nserver 10\.10\.0\.251 iburst$/m);
      assert.doesNotMatch(text, /^pool /m);
    });

    it("never injects packet loss or delay (the seed's netem lines)", () => {
      assert.doesNotMatch(renderBaseline(baseline), /netem|tc qdisc/);
    });

    it("removes only the estate's kernel settings on delete", () => {
      assert.equal(
        renderBaselineDelete("estate"),
        "sudo -n rm -f /etc/sysctl.d/90-estate.conf /etc/modules-load.d/estate.conf",
      );
      assert.equal(renderBaselineDelete("root"), "rm -f /etc/sysctl.d/90-estate.conf /etc/modules-load.d/estate.conf");
    });

    it("is deterministic: the same input renders the same text", () => {
      assert.equal(renderBaseline(baseline), renderBaseline({ ...baseline }));
    });
  });

  describe("node exporter", () => {
    const dropIn = exporterDropInPath(nodeExporterService(baseline.exporterAddress));

    it("is configured before its package is installed, and restarted only when its drop-in changed", () => {
      const text = renderBaseline(baseline);
      assert.ok(baseline.packages.includes("prometheus-node-exporter"));
      const put = text.indexOf(`put_file 0644 '${dropIn}'`);
      assert.ok(put > 0 && put < text.indexOf("apt-get install"), "drop-in before apt-get install");
      assert.match(text, new RegExp(`^if changed '${dropIn}'; then systemctl daemon-reload; fi$`, "m"));
      assert.match(
        text,
        new RegExp(
          `^if changed '${dropIn}'; then\n  systemctl restart 'prometheus-node-exporter'\nelif ! systemctl is-active --quiet 'prometheus-node-exporter'; then\n  systemctl start 'prometheus-node-exporter'\nfi$`,
          "m",
        ),
      );
      assert.equal(text.match(/systemctl restart 'prometheus-node-exporter'/g)?.length, 1);
    });

    it("listens on the server's loopback /32 only, port 9100, with the textfile collector", () => {
      const argv = execStartOf(renderExporterDropIn(nodeExporterService(baseline.exporterAddress)));
      assert.equal(baseline.exporterAddress, prod.servers.find((s) => s.name === "ctl-1")!.loopback);
      assert.ok(argv.includes(`--web.listen-address=${baseline.exporterAddress}:9100`), argv.join(" "));
      assert.ok(argv.includes(`--collector.textfile.directory=${TEXTFILE_DIR}`));
      assert.ok(argv.includes("--collector.disable-defaults"));
    });

    it("refuses a listen address that is not an IPv4 address (nothing else reaches the unit file)", () => {
      for (const bad of [
        "10.0.0.1 --web.config.file=/tmp/x",
        "10.0.0.1\nExecStartPre=/bin/sh",
        "10.0.0.256",
        "$(id)",
        "",
      ])
        assert.throws(() => nodeExporterService(bad), /is not an IPv4 address/, JSON.stringify(bad));
      assert.throws(
        () => renderExporterDropIn({ package: "prometheus-node-exporter", what: "x", args: ["--a=%h"] }),
        /is not one plain word/,
      );
    });

    it("the planned flags run Debian's node exporter 1.5: every metric the rules read, and textfile samples", async function () {
      this.timeout(30000);
      requireTool("prometheus-node-exporter", "prometheus-node-exporter");
      const textfiles = fs.mkdtempSync(path.join(tmp, "textfile-"));
      fs.writeFileSync(path.join(textfiles, "estate_test.prom"), "estate_test_sample 42\n");
      const port = await freePort();
      const planned = execStartOf(renderExporterDropIn(nodeExporterService(baseline.exporterAddress)));
      const { argv, was } = listenOn(planned, "--web.listen-address", port);
      const argv2 = argv.map((w) => w.replace(`=${TEXTFILE_DIR}`, `=${textfiles}`));
      console.log(`substituted: ${was} -> 127.0.0.1:${port}; ${TEXTFILE_DIR} -> <tmp>`);
      const exporter = start(argv2);
      try {
        const text = await scrape(`http://127.0.0.1:${port}/metrics`, 10000, exporter);
        const names = metricNames(text);
        for (const m of [
          "node_cpu_seconds_total",
          "node_memory_MemAvailable_bytes",
          "node_memory_MemTotal_bytes",
          "node_filesystem_avail_bytes",
          "node_filesystem_size_bytes",
          "node_load1",
          "node_pressure_memory_waiting_seconds_total",
          "node_timex_sync_status",
          "node_timex_maxerror_seconds",
          "node_time_seconds",
          "node_textfile_scrape_error",
          "node_uname_info",
          "estate_test_sample",
        ])
          assert.ok(names.has(m), `${m} missing`);
        assert.match(text, /^node_textfile_scrape_error 0$/m);
        assert.match(text, /^estate_test_sample 42$/m);
        // Only the listed collectors run: no default one that was left out (e.g. arp).
        assert.ok(!names.has("node_arp_entries"));
      } finally {
        exporter.stop();
      }
    });
  });
});
