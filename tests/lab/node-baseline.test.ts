/**
 * The OS baseline, run for real, twice, in a throwaway sandbox: private mount, UTS and
 * network namespaces with a copy of /etc bound over /etc (and a private /run), so the
 * host's files, name and network stay untouched.
 *
 * What is real: every file the baseline writes, the hosts file edit, the time zone link,
 * `passwd -l`, package checks against dpkg, and `sshd -t` validating the hardened drop-in.
 * What is a recording shim (they would act on the host kernel or need systemd): systemctl,
 * modprobe, swapoff and sysctl. The sysctl shim checks that every parameter it is given
 * exists in this kernel's /proc/sys.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { baselineInputFor, type BaselineInput, renderBaseline } from "../../components/node/render";
import { estateOf } from "../helpers/config";
import { requireTool } from "../helpers/tools";

const SHIMS: Record<string, string> = {
  systemctl: 'echo "systemctl $*" >>"$ESTATE_CALLS"',
  modprobe: 'echo "modprobe $*" >>"$ESTATE_CALLS"',
  swapoff: 'echo "swapoff $*" >>"$ESTATE_CALLS"',
  sysctl: `echo "sysctl $*" >>"$ESTATE_CALLS"
file=\${!#}
while IFS= read -r line; do
  [[ -z "$line" || "$line" == \\#* ]] && continue
  key=\${line%% =*}
  [[ -e /proc/sys/\${key//.//} ]] || { echo "sysctl shim: unknown kernel parameter $key" >&2; exit 1; }
done <"$file"`,
};

function sandboxRun(dir: string, script: string): { status: number; stdout: string; stderr: string; calls: string[] } {
  const calls = path.join(dir, "calls.log");
  fs.writeFileSync(calls, "");
  const driver = `set -euo pipefail
mount --make-rprivate /
mount --bind ${dir}/etc /etc
mount --bind ${dir}/run /run
hostname sandbox-old
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
    if (process.getuid?.() !== 0) {
      if (process.env.CI) throw new Error("this test needs root (CI runs as root)");
      this.skip();
    }
    requireTool("unshare", "util-linux");
    requireTool("sshd", "openssh-server");
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "estate-baseline-"));
    fs.cpSync("/etc", path.join(dir, "etc"), { recursive: true, verbatimSymlinks: true });
    fs.mkdirSync(path.join(dir, "run"));
    fs.mkdirSync(path.join(dir, "shims"));
    for (const [name, body] of Object.entries(SHIMS))
      fs.writeFileSync(path.join(dir, "shims", name), `#!/usr/bin/env bash\nset -euo pipefail\n${body}\n`, {
        mode: 0o755,
      });
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
        "systemctl restart chrony",
        "systemctl enable --now chrony",
        "systemctl mask swap.target",
        "systemctl reload ssh",
      ],
    );
    assert.ok(r.calls.includes("sysctl -q -p /etc/sysctl.d/90-estate.conf"));
    assert.ok(r.calls.includes("swapoff -a"));
    assert.match(r.stdout, /^baseline ctl-1: done; changed: \/etc\/hostname \/etc\/hosts \/etc\/chrony\/chrony\.conf/m);
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
