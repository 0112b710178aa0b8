/**
 * The OS baseline, run for real, twice, in a throwaway sandbox: private mount, UTS and
 * network namespaces with a copy of /etc bound over /etc (and a private /run), so the
 * host's files, name and network stay untouched.
 *
 * A fresh sysfs shows the sandbox's own network devices (veths standing in for NICs).
 *
 * What is real: every file the baseline writes, the hosts file edit, the time zone link,
 * `passwd -l`, package checks against dpkg, and `sshd -t` validating the hardened drop-in.
 * What is a recording shim (they would act on the host kernel or need systemd): systemctl,
 * modprobe, swapoff, sysctl, and networkctl (whose `reconfigure` brings the links up, as
 * networkd would). The sysctl shim checks that every parameter it is given
 * exists in this kernel's /proc/sys.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { baselineInputFor, networkInputFor } from "../../components/node/input";
import { type BaselineInput, type NetworkInput, renderBaseline, renderNetwork } from "../../components/node/render";
import { estateOf } from "../helpers/config";
import { requireTool } from "../helpers/tools";

const SHIMS: Record<string, string> = {
  systemctl: 'echo "systemctl $*" >>"$ESTATE_CALLS"',
  modprobe: 'echo "modprobe $*" >>"$ESTATE_CALLS"',
  swapoff: 'echo "swapoff $*" >>"$ESTATE_CALLS"',
  // Stands in for systemd-networkd: reconfiguring a link brings it up, as networkd would.
  networkctl: `echo "networkctl $*" >>"$ESTATE_CALLS"
if [[ "$1" == reconfigure ]]; then shift; for n in "$@"; do ip link set dev "$n" up; done; fi`,
  sysctl: `echo "sysctl $*" >>"$ESTATE_CALLS"
file=\${!#}
while IFS= read -r line; do
  [[ -z "$line" || "$line" == \\#* ]] && continue
  key=\${line%% =*}
  [[ -e /proc/sys/\${key//.//} ]] || { echo "sysctl shim: unknown kernel parameter $key" >&2; exit 1; }
done <"$file"`,
};

/** A sandbox folder: a copy of /etc, an empty /run, the shims. */
function makeSandbox(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "estate-node-sandbox-"));
  fs.cpSync("/etc", path.join(dir, "etc"), { recursive: true, verbatimSymlinks: true });
  fs.mkdirSync(path.join(dir, "run"));
  fs.mkdirSync(path.join(dir, "shims"));
  for (const [name, body] of Object.entries(SHIMS))
    fs.writeFileSync(path.join(dir, "shims", name), `#!/usr/bin/env bash\nset -euo pipefail\n${body}\n`, {
      mode: 0o755,
    });
  return dir;
}

function requireRoot(ctx: Mocha.Context): void {
  if (process.getuid?.() !== 0) {
    if (process.env.CI) throw new Error("this test needs root (CI runs as root)");
    ctx.skip();
  }
  requireTool("unshare", "util-linux");
}

/** Runs `script` in the sandbox; `pre` runs first inside its fresh network namespace. */
function sandboxRun(
  dir: string,
  script: string,
  pre = "",
): { status: number; stdout: string; stderr: string; calls: string[] } {
  const calls = path.join(dir, "calls.log");
  fs.writeFileSync(calls, "");
  const driver = `set -euo pipefail
mount --make-rprivate /
mount --bind ${dir}/etc /etc
mount --bind ${dir}/run /run
mount -t sysfs sysfs /sys
hostname sandbox-old
${pre}
PATH=${dir}/shims:$PATH ESTATE_CALLS=${calls} bash ${script}`;
  const r = spawnSync("unshare", ["--mount", "--uts", "--net", "--fork", "bash", "-c", driver], {
    encoding: "utf8",
    timeout: 60000,
  });
  return {
    status: r.status ?? -1,
    stdout: r.stdout,
    stderr: r.stderr,
    calls: fs.readFileSync(calls, "utf8").split("\n").filter(Boolean),
  };
}

describe("node baseline in a sandbox (root)", function () {
  this.timeout(120000);
  let dir: string;
  const prod = estateOf("prod");
  const input: BaselineInput = {
    // prod's ctl-1, made a balancer too so that every branch of the script runs.
    ...baselineInputFor(
      prod.servers.find((s) => s.name === "ctl-1")!,
      prod,
    ),
    balancer: true,
    // Installed on this machine (the sandbox has no network for apt-get).
    packages: ["iproute2", "nftables", "openssh-server"],
  };

  before(function () {
    requireRoot(this);
    requireTool("sshd", "openssh-server");
    dir = makeSandbox();
    // A host as an installer leaves it: Debian's 127.0.1.1 alias and an active swap line.
    const etc = path.join(dir, "etc");
    fs.writeFileSync(path.join(etc, "hosts"), "127.0.0.1 localhost\n127.0.1.1 debian\n");
    fs.writeFileSync(path.join(etc, "fstab"), "UUID=abc / ext4 defaults 0 1\n/swap.img none swap sw 0 0\n");
    // Root with a password, as many installers leave it (the hash is of no real password).
    const shadow = fs.readFileSync(path.join(etc, "shadow"), "utf8");
    fs.writeFileSync(path.join(etc, "shadow"), shadow.replace(/^root:[^:]*:/m, "root:$6$estate$notarealhash:"));
    fs.mkdirSync(path.join(etc, "ssh", "sshd_config.d"), { recursive: true });
    if (
      !/^Include \/etc\/ssh\/sshd_config\.d\/\*\.conf/m.test(
        fs.readFileSync(path.join(etc, "ssh", "sshd_config"), "utf8"),
      )
    )
      throw new Error("this machine's sshd_config lacks the Debian Include line");
    fs.writeFileSync(path.join(dir, "baseline.sh"), renderBaseline(input));
  });

  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("applies on the first run, validated by the real sshd", () => {
    const r = sandboxRun(dir, path.join(dir, "baseline.sh"));
    assert.equal(r.status, 0, r.stderr);
    const etc = (p: string) => fs.readFileSync(path.join(dir, "etc", p), "utf8");
    assert.equal(etc("hostname"), "ctl-1\n");
    assert.equal(
      etc("hosts"),
      // The name resolves to the fabric loopback (prod ctl-1: 10.255.0.66).
      "127.0.0.1 localhost\n# BEGIN estate\n10.255.0.66 ctl-1.prod.estate.internal ctl-1\n# END estate\n",
    );
    assert.equal(etc("fstab"), "UUID=abc / ext4 defaults 0 1\n#/swap.img none swap sw 0 0\n");
    assert.match(etc("chrony/chrony.conf"), /^server 10\.10\.0\.250 iburst$/m);
    assert.match(etc("sysctl.d/90-estate.conf"), /^net\.ipv4\.conf\.all\.rp_filter = 2$/m);
    assert.match(etc("ssh/sshd_config.d/00-estate-hardening.conf"), /^PasswordAuthentication no$/m);
    assert.match(etc("shadow"), /^root:!\$6\$estate\$notarealhash:/m, "root password locked");
    assert.deepEqual(
      r.calls.filter((c) => c.startsWith("systemctl")),
      [
        // The node exporter's drop-in is new: systemd rereads units before the package installs.
        "systemctl daemon-reload",
        "systemctl restart chrony",
        "systemctl enable --now chrony",
        "systemctl mask swap.target",
        "systemctl reload ssh",
        "systemctl enable --quiet prometheus-node-exporter",
        "systemctl restart prometheus-node-exporter",
      ],
    );
    assert.ok(r.calls.includes("sysctl -q -p /etc/sysctl.d/90-estate.conf"));
    assert.ok(r.calls.includes("swapoff -a"));
    assert.match(
      r.stdout,
      /^baseline ctl-1: done; changed: \/etc\/systemd\/system\/prometheus-node-exporter\.service\.d\/estate\.conf \/etc\/hostname \/etc\/hosts \/etc\/chrony\/chrony\.conf/m,
    );
  });

  it("changes nothing and restarts nothing on the second run", () => {
    const before = fs.readFileSync(path.join(dir, "etc", "hosts"), "utf8");
    const r = sandboxRun(dir, path.join(dir, "baseline.sh"));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^baseline ctl-1: done; changed: nothing$/m);
    assert.deepEqual(
      r.calls.filter((c) => /restart|reload/.test(c)),
      [],
      "no service restarted or reloaded",
    );
    assert.equal(fs.readFileSync(path.join(dir, "etc", "hosts"), "utf8"), before);
  });

  it("rolls back an sshd drop-in that sshd rejects, and fails", () => {
    const broken = renderBaseline(input).replace("MaxAuthTries 3", "MaxAuthTries three");
    const file = path.join(dir, "broken.sh");
    fs.writeFileSync(file, broken);
    const r = sandboxRun(dir, file);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /baseline ctl-1: sshd rejected the hardened config; restored the previous one/);
    assert.match(
      fs.readFileSync(path.join(dir, "etc", "ssh", "sshd_config.d", "00-estate-hardening.conf"), "utf8"),
      /^MaxAuthTries 3$/m,
    );
  });
});

describe("node network in a sandbox (root)", function () {
  this.timeout(120000);
  let dir: string;
  const prod = estateOf("prod");
  const lb = prod.servers.find((s) => s.name === "lb-1")!;
  // The sandbox's NICs are veths, which report 10 Gb/s.
  const input: NetworkInput = {
    ...networkInputFor(lb, prod),
    uplinks: networkInputFor(lb, prod).uplinks.map((u) => ({ ...u, speedMbps: 10000 })),
  };
  const nics = ["ens1f0", "ens1f1", "eno1"];
  const cables = nics
    .map((n, i) => `ip link add ${n} type veth peer name peer${i}; ip link set peer${i} up`)
    .join("\n");
  const up = nics.map((n) => `ip link set ${n} up`).join("\n");

  before(function () {
    requireRoot(this);
    dir = makeSandbox();
    fs.writeFileSync(path.join(dir, "network.sh"), renderNetwork(input));
  });

  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("brings the uplinks up, link-local only, and checks their speed", () => {
    const r = sandboxRun(dir, path.join(dir, "network.sh"), cables);
    assert.equal(r.status, 0, r.stderr);
    const file = (n: string) =>
      fs.readFileSync(path.join(dir, "etc", "systemd", "network", `10-estate-${n}.network`), "utf8");
    assert.match(file("ens1f0"), /^Name=ens1f0$/m);
    assert.match(file("ens1f0"), /^LinkLocalAddressing=ipv6$/m);
    assert.doesNotMatch(file("ens1f0"), /^Address=/m);
    assert.match(file("eno1"), /^Address=10\.20\.0\.11\/24$/m);
    assert.match(
      fs.readFileSync(path.join(dir, "etc", "systemd", "networkd.conf.d", "estate.conf"), "utf8"),
      /^ManageForeignRoutes=no$/m,
    );
    assert.deepEqual(
      r.calls.filter((c) => c.startsWith("networkctl")),
      ["networkctl reload", "networkctl reconfigure ens1f0 ens1f1 eno1"],
    );
  });

  it("changes nothing and reloads nothing on the second run", () => {
    const r = sandboxRun(dir, path.join(dir, "network.sh"), `${cables}\n${up}`);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^network lb-1: done; changed: nothing$/m);
    assert.deepEqual(
      r.calls.filter((c) => c.startsWith("networkctl")),
      [],
    );
  });

  it("fails naming the NIC whose speed differs from the inventory", () => {
    const wrong = renderNetwork({ ...input, uplinks: input.uplinks.map((u) => ({ ...u, speedMbps: 100000 })) });
    fs.writeFileSync(path.join(dir, "wrong.sh"), wrong);
    const r = sandboxRun(dir, path.join(dir, "wrong.sh"), `${cables}\n${up}`);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^network lb-1: ens1f0 runs at 10000 Mb\/s, the inventory says 100000 Mb\/s$/m);
  });
});
