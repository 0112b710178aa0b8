/**
 * The K3s renderers as plain functions: every config key exists for its node kind in K3s'
 * own flag list (an invented key is caught), enumerated values are allowed, no secret in
 * the config, scripts pass shellcheck and verify the binary before running it, the roll's
 * batches, the kubeconfig rewrite, and the API stream block passes `nginx -t`. The etcd
 * snapshot metric: its script run for real (no snapshot, newest of several, hostile file
 * names) against promtool, its units against `systemd-analyze verify`.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { apiStreamInputFor, k3sInputFor } from "../../components/kubernetes/input";
import { TEXTFILE_DIR, TEXTFILE_METRICS } from "../../components/monitoring/conventions";
import {
  agentBatches,
  K3S_AGENT_TOKEN_FILE,
  K3S_SNAPSHOT_DIR,
  K3S_TOKEN_FILE,
  type K3sClusterInput,
  type K3sConfig,
  k3sConfig,
  type K3sKind,
  renderApiStream,
  renderInstall,
  renderK3sConfig,
  renderReadKubeconfig,
  renderReadyCheck,
  renderRoll,
  renderSnapshotMetricDelete,
  renderSnapshotMetricEnable,
  renderSnapshotMetricScript,
  renderSnapshotMetricService,
  renderSnapshotMetricTimer,
  rewriteKubeconfig,
  SNAPSHOT_METRIC,
} from "../../components/kubernetes/render";
import { shq } from "../../components/shared/shell";
import { estateOf } from "../helpers/config";
import { PROJECT_DIR } from "../helpers/plan";
import { requireStreamModule, STREAM_MODULE } from "../helpers/nginx-stream";
import { promtoolCheckMetrics } from "../helpers/exporters";
import { checkScripts } from "../helpers/shellcheck";
import { requireTool } from "../helpers/tools";

const KEYS = JSON.parse(
  fs.readFileSync(path.join(PROJECT_DIR, "tests/fixtures/reference/k3s/config-keys.json"), "utf8"),
) as { server: string[]; agent: string[]; enumerations: Record<string, string[]> };

/** What K3s would say about a config file for `kind`: unknown keys, values outside an enumeration. */
export function k3sConfigProblems(config: Record<string, unknown>, kind: K3sKind): string[] {
  const out: string[] = [];
  for (const [raw, value] of Object.entries(config)) {
    const key = raw.endsWith("+") ? raw.slice(0, -1) : raw;
    if (!KEYS[kind].includes(key)) {
      out.push(`${raw}: not a k3s ${kind} key`);
      continue;
    }
    const allowed = KEYS.enumerations[key];
    if (allowed)
      for (const v of Array.isArray(value) ? value : [value])
        if (!allowed.includes(String(v))) out.push(`${raw}: ${String(v)} is not one of ${allowed.join(", ")}`);
  }
  return out;
}

const S3 = { rgwEndpoint: "http://10.255.0.66:7480", bucket: "estate-backups" };

describe("K3s renderers", () => {
  const prod = k3sInputFor(estateOf("prod"), S3);
  const dev = k3sInputFor(estateOf("dev"), S3);
  const all = (i: K3sClusterInput) => [...i.servers, ...i.agents];

  it("puts only keys K3s knows for the node's kind, with allowed values, in every node's config", () => {
    for (const input of [prod, dev])
      for (const n of all(input)) assert.deepEqual(k3sConfigProblems(k3sConfig(input, n), n.kind), [], n.name);
  });

  it("catches an invented key, a server-only key on an agent and a value outside an enumeration", () => {
    const agent = prod.agents[0];
    const bad: K3sConfig = {
      ...k3sConfig(prod, agent),
      "etcd-snapshot-shedule-cron": "0 * * * *",
      "cluster-cidr": "10.42.0.0/16",
      "node-label+": ["a=b"],
    };
    assert.deepEqual(k3sConfigProblems(bad, "agent"), [
      "etcd-snapshot-shedule-cron: not a k3s agent key",
      "cluster-cidr: not a k3s agent key",
    ]);
    assert.deepEqual(k3sConfigProblems({ "flannel-backend": "ipsec", "disable+": ["traefik", "trafik"] }, "server"), [
      "flannel-backend: ipsec is not one of none, vxlan, host-gw, wireguard-native",
      "disable+: trafik is not one of coredns, servicelb, traefik, local-storage, metrics-server, runtimes",
    ]);
  });

  it("starts the first server with cluster-init; every other node joins it by its loopback", () => {
    const first = k3sConfig(prod, prod.servers[0]);
    assert.equal(prod.servers[0].name, "ctl-1");
    assert.equal(first["cluster-init"], true);
    assert.equal(first.server, undefined);
    for (const n of [...prod.servers.slice(1), ...prod.agents]) {
      const c = k3sConfig(prod, n);
      assert.equal(c["cluster-init"], undefined, n.name);
      assert.equal(c.server, "https://10.255.0.67:6443".replace("67", prod.servers[0].address.split(".")[3]), n.name);
    }
  });

  it("sets the node IP, CIDRs, CNI, hardening, SANs and snapshots of a server from the model", () => {
    const c = k3sConfig(prod, prod.servers[1]);
    assert.deepEqual(c, {
      "advertise-address": prod.servers[1].address,
      "bind-address": prod.servers[1].address,
      "agent-token-file": K3S_AGENT_TOKEN_FILE,
      "cluster-cidr": "10.42.0.0/16",
      disable: ["local-storage", "servicelb", "traefik"],
      "disable-network-policy": true,
      "etcd-expose-metrics": true,
      "etcd-s3": true,
      "etcd-s3-bucket": "estate-backups",
      "etcd-s3-bucket-lookup-type": "path",
      "etcd-s3-endpoint": "10.255.0.66:7480",
      "etcd-s3-folder": "k3s-etcd",
      "etcd-s3-insecure": true,
      "etcd-s3-retention": 28,
      "etcd-snapshot-retention": 28,
      "etcd-snapshot-schedule-cron": "0 */6 * * *",
      "flannel-backend": "none",
      "kube-apiserver-arg": ["profiling=false"],
      "kube-controller-manager-arg": ["profiling=false", "terminated-pod-gc-threshold=1000"],
      "kube-scheduler-arg": ["profiling=false"],
      "kubelet-arg": ["streaming-connection-idle-timeout=5m"],
      "node-ip": prod.servers[1].address,
      "node-label": [
        "topology.kubernetes.io/zone=r1",
        "role.estate.io/ceph-mgr=true",
        "role.estate.io/ceph-mon=true",
        "role.estate.io/k8s-server=true",
      ],
      "node-name": "ctl-2",
      "node-taint": ["node-role.kubernetes.io/control-plane=true:NoSchedule"],
      "protect-kernel-defaults": true,
      "secrets-encryption": true,
      server: `https://${prod.servers[0].address}:6443`,
      "service-cidr": "10.43.0.0/16",
      "tls-san": ["api.prod.estate.internal", "10.20.0.10"],
      "tls-san-security": true,
      "token-file": K3S_TOKEN_FILE,
      "write-kubeconfig-mode": "0600",
    });
  });

  it("gives agents the agent token, and taints servers only when agents carry the workloads", () => {
    const a = k3sConfig(prod, prod.agents[0]);
    assert.equal(a["token-file"], K3S_AGENT_TOKEN_FILE);
    assert.equal(a["node-taint"], undefined);
    assert.equal(dev.agents.length, 0);
    for (const s of dev.servers) assert.equal(k3sConfig(dev, s)["node-taint"], undefined);
  });

  it("keeps secrets out of the config: tokens and S3 credentials are files of their own", () => {
    for (const n of all(prod)) {
      const text = renderK3sConfig(k3sConfig(prod, n));
      assert.doesNotMatch(text, /^(token|agent-token|etcd-s3-access-key|etcd-s3-secret-key|etcd-s3-session-token):/m);
    }
  });

  it("leaves out the etcd-s3 keys without a cold tier", () => {
    const c = k3sConfig(k3sInputFor(estateOf("prod")), prod.servers[0]);
    assert.deepEqual(
      Object.keys(c).filter((k) => k.startsWith("etcd-s3")),
      [],
    );
  });

  it("writes install, roll, readiness and kubeconfig scripts that pass bash -n and shellcheck", () => {
    const texts: Record<string, string> = {
      "kubeconfig.sh": renderReadKubeconfig(),
      "ready.sh": renderReadyCheck("wrk-1"),
    };
    for (const n of all(prod)) {
      texts[`${n.name}.install.sh`] = renderInstall(prod, n);
      texts[`${n.name}.roll.sh`] = renderRoll(prod, n);
    }
    assert.deepEqual(checkScripts(texts), {});
  });

  it("downloads from the mirror and checks the sha256 before the binary is made executable", () => {
    const s = renderRoll(prod, prod.servers[0]);
    assert.match(s, /url='https:\/\/github\.com\/k3s-io\/k3s\/releases\/download\/v1\.34\.2%2Bk3s1\/k3s'/);
    const verify = s.indexOf('if [[ "$got" != "$want" ]]');
    assert.ok(verify > 0 && verify < s.indexOf('chmod 0755 "$tmp"'));
    assert.ok(s.indexOf('mv -f "$tmp" "$binary"') > verify);
    // The install never replaces a binary that is there (that is the roll's job).
    assert.match(renderInstall(prod, prod.agents[0]), /if \[\[ ! -x '\/usr\/local\/bin\/k3s' \]\]; then\n/);
  });

  it("verifies for real: a file with another checksum is refused and never installed", function () {
    requireTool("sha256sum", "coreutils");
    requireTool("curl", "curl");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "k3s-fetch-"));
    try {
      const payload = path.join(dir, "k3s-download");
      fs.writeFileSync(payload, "#!/bin/sh\necho fake\n");
      const good = spawnSync("sha256sum", [payload], { encoding: "utf8" }).stdout.split(" ")[0];
      const run = (sha: string) => {
        const input = { ...prod, binaryUrl: `file://${payload}`, sha256: sha };
        // Only the fetch-and-verify part, with the binary path moved into the temp folder.
        const script = renderRoll(input, prod.agents[0])
          .replace(/'\/usr\/local\/bin\/k3s'/g, `'${dir}/k3s'`)
          .split("\napplied=")[0];
        return spawnSync("bash", ["-c", script], { encoding: "utf8" });
      };
      const bad = run("1".repeat(64));
      assert.notEqual(bad.status, 0);
      assert.match(bad.stderr, /refusing to install it/);
      assert.equal(fs.existsSync(path.join(dir, "k3s")), false);
      const ok = run(good);
      assert.equal(ok.status, 0, ok.stderr);
      assert.equal(fs.readFileSync(path.join(dir, "k3s"), "utf8"), "#!/bin/sh\necho fake\n");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("waits for Ready in the roll of a server, and the agents' readiness runs kubectl on a server", () => {
    assert.match(
      renderRoll(prod, prod.servers[1]),
      /kubectl --kubeconfig '\/etc\/rancher\/k3s\/k3s.yaml' wait --for=condition=Ready "node\/\$node"/,
    );
    assert.doesNotMatch(renderRoll(prod, prod.agents[0]), /kubectl/);
    assert.match(renderReadyCheck("wrk-1"), /node='wrk-1'/);
  });

  it("rolls agents in batches of at most the share, at least one node each", () => {
    const n = (k: number) => Array.from({ length: k }, (_, i) => i);
    assert.deepEqual(agentBatches(n(3), 25), [[0], [1], [2]]);
    assert.deepEqual(agentBatches(n(6), 25), [
      [0, 1],
      [2, 3],
      [4, 5],
    ]);
    assert.equal(agentBatches(n(100), 25).length, 4);
    assert.deepEqual(agentBatches([], 25), []);
  });

  it("rewrites the kubeconfig's server to the API endpoint", () => {
    const kc = `apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: QUJD
    server: https://127.0.0.1:6443
  name: default
kind: Config
`;
    const out = rewriteKubeconfig(kc, "https://10.20.0.10:6443");
    assert.match(out, /server: https:\/\/10\.20\.0\.10:6443/);
    assert.match(out, /certificate-authority-data: QUJD/);
    assert.throws(() => rewriteKubeconfig("kind: Config\n", "https://x:6443"), /no clusters/);
  });

  it("renders the API stream block that nginx -t accepts, with every K3s server as an upstream", function () {
    requireStreamModule();
    const stream = renderApiStream(apiStreamInputFor(estateOf("prod")));
    assert.deepEqual(
      apiStreamInputFor(estateOf("prod")).servers.map((s) => s.name),
      ["ctl-1", "ctl-2", "ctl-3"],
    );
    for (const s of prod.servers) assert.match(stream, new RegExp(`server ${s.address.replace(/\./g, "\\.")}:6443 `));
    assert.match(stream, /listen 10\.20\.0\.10:6443;/);
    // nginx -t binds the listener: the same block on an address this machine has (the
    // balancers bind the VIP before they hold it: net.ipv4.ip_nonlocal_bind = 1).
    const local = renderApiStream({ vip: "127.0.0.1", servers: prod.servers });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "k3s-stream-"));
    try {
      const conf = path.join(dir, "nginx.conf");
      fs.writeFileSync(
        conf,
        `load_module ${STREAM_MODULE};\npid ${dir}/nginx.pid;\nerror_log stderr;\nevents {}\n${local}`,
      );
      const r = spawnSync("nginx", ["-t", "-q", "-p", `${dir}/`, "-e", "stderr", "-c", conf], { encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the etcd snapshot metric of the K3s servers", () => {
  const m = TEXTFILE_METRICS.etcdSnapshot;

  it("reads K3s' default snapshot folder, which the rendered config never moves", () => {
    for (const stack of ["prod", "dev"] as const) {
      const input = k3sInputFor(estateOf(stack), S3);
      for (const n of input.servers) {
        const c = k3sConfig(input, n);
        assert.equal(c["data-dir"], undefined, n.name);
        assert.equal(c["etcd-snapshot-dir"], undefined, n.name);
      }
    }
    // K3s' default: <data-dir>/server/db/snapshots with data-dir /var/lib/rancher/k3s.
    assert.equal(K3S_SNAPSHOT_DIR, "/var/lib/rancher/k3s/server/db/snapshots");
    assert.ok(renderSnapshotMetricScript().includes(`snapshots=${shq(K3S_SNAPSHOT_DIR)}\n`));
  });

  it("writes a script, a start step and deletes that pass bash -n and shellcheck", () => {
    const texts: Record<string, string> = {
      "snapshot-metric.sh": renderSnapshotMetricScript(),
      "snapshot-metric-enable.sh": renderSnapshotMetricEnable(),
    };
    for (const user of ["root", "estate"])
      for (const p of ["script", "service", "timer"] as const)
        texts[`${user}.${p}.delete.sh`] = `#!/bin/bash\nset -euo pipefail\n${renderSnapshotMetricDelete(user, p)}\n`;
    assert.deepEqual(checkScripts(texts), {});
    assert.match(
      renderSnapshotMetricDelete("estate", "timer"),
      /^sudo -n sh -c '.*systemctl disable --now estate-etcd-snapshot-metric\.timer/,
    );
    assert.match(
      renderSnapshotMetricDelete("root", "service"),
      /^sh -c 'rm -f \/etc\/systemd\/system\/estate-etcd-snapshot-metric\.service \/var\/lib\/prometheus\/node-exporter\/estate_etcd_snapshot\.prom;/,
    );
  });

  it("renders units that systemd-analyze verify accepts (and it catches an unknown key)", () => {
    requireTool("systemd-analyze", "systemd");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "k3s-units-"));
    try {
      const script = path.join(dir, "estate-etcd-snapshot-metric");
      fs.writeFileSync(script, renderSnapshotMetricScript(), { mode: 0o755 });
      const verify = (service: string, timer: string) => {
        fs.writeFileSync(path.join(dir, SNAPSHOT_METRIC.serviceUnit), service);
        fs.writeFileSync(path.join(dir, SNAPSHOT_METRIC.timerUnit), timer);
        const r = spawnSync(
          "systemd-analyze",
          ["verify", path.join(dir, SNAPSHOT_METRIC.serviceUnit), path.join(dir, SNAPSHOT_METRIC.timerUnit)],
          { encoding: "utf8" },
        );
        return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
      };
      const service = renderSnapshotMetricService();
      assert.equal(service.split(`ExecStart=${SNAPSHOT_METRIC.script}\n`).length, 2);
      // The one substitution: ExecStart at the script in the temp folder (verify wants it to exist).
      console.log(`substitution: ExecStart=${SNAPSHOT_METRIC.script} -> ExecStart=${script}`);
      const here = service.replace(`ExecStart=${SNAPSHOT_METRIC.script}\n`, `ExecStart=${script}\n`);
      const good = verify(here, renderSnapshotMetricTimer());
      assert.deepEqual(good, { status: 0, output: "" });
      const bad = verify(here.replace("Type=oneshot", "Type=oneshot\nPersistent=true"), renderSnapshotMetricTimer());
      assert.match(bad.output, /Unknown key 'Persistent' in section \[Service\]/);
      assert.match(renderSnapshotMetricTimer(), /^OnCalendar=\*:0\/5\nPersistent=true\n/m);
      assert.match(service, /^Type=oneshot$/m);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  describe("the script, run for real", () => {
    let tmp: string;
    let snapshots: string;
    let textfile: string;
    let script: string;
    before(() => {
      requireTool("promtool", "prometheus");
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), "k3s-snapmetric-"));
      snapshots = path.join(tmp, "snapshots");
      textfile = path.join(tmp, "textfile");
      script = path.join(tmp, "estate-etcd-snapshot-metric");
      let text = renderSnapshotMetricScript();
      for (const [from, to] of [
        [K3S_SNAPSHOT_DIR, snapshots],
        [TEXTFILE_DIR, textfile],
      ]) {
        assert.equal(text.split(shq(from)).length, 2, `${from} appears once in the script`);
        text = text.replace(shq(from), shq(to));
        console.log(`substitution: ${from} -> ${to}`);
      }
      fs.writeFileSync(script, text, { mode: 0o755 });
    });
    after(() => fs.rmSync(tmp, { recursive: true, force: true }));

    const run = () => {
      const r = spawnSync("bash", [script], { encoding: "utf8", cwd: tmp });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr, "");
    };
    /** The one sample, after promtool accepted the file, its mode and that nothing else is left. */
    const value = (): number => {
      const text = fs.readFileSync(path.join(textfile, m.file), "utf8");
      const check = promtoolCheckMetrics(text);
      assert.equal(check.status, 0, `promtool check metrics:\n${check.output}\n${text}`);
      assert.deepEqual(fs.readdirSync(textfile), [m.file], "the temporary file was renamed");
      assert.equal(fs.statSync(path.join(textfile, m.file)).mode & 0o777, 0o644);
      const lines = text.split("\n").filter((l) => l && !l.startsWith("#"));
      assert.equal(lines.length, 1, text);
      const got = new RegExp(`^${m.name} (\\d+)$`).exec(lines[0]);
      assert.ok(got, text);
      return Number(got[1]);
    };
    const touch = (name: string, epoch: number) => {
      const f = path.join(snapshots, name);
      if (!fs.existsSync(f)) fs.writeFileSync(f, "snapshot");
      const r = spawnSync("touch", ["-d", `@${epoch}`, "--", f], { encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
    };

    it("writes 0 without a snapshot folder and with an empty one", () => {
      run();
      assert.equal(value(), 0);
      fs.mkdirSync(snapshots);
      run();
      assert.equal(value(), 0);
    });

    it("writes the newest snapshot's time, ignoring hidden, partial files and folders; idempotent", () => {
      touch("etcd-snapshot-ctl-1-1700000000", 1700000000);
      touch("etcd-snapshot-ctl-1-1700021600.zip", 1700021600);
      run();
      assert.equal(value(), 1700021600);
      // Newer, but not snapshots: a hidden file, etcd's partial download, a folder.
      touch(".metadata-like", 1800000000);
      touch("etcd-snapshot-ctl-1-1800000000.part", 1800000000);
      fs.mkdirSync(path.join(snapshots, "sub"));
      spawnSync("touch", ["-d", "@1800000000", path.join(snapshots, "sub")]);
      const before = fs.readFileSync(path.join(textfile, m.file), "utf8");
      run();
      assert.equal(value(), 1700021600);
      assert.equal(fs.readFileSync(path.join(textfile, m.file), "utf8"), before);
    });

    it("never runs a file name: hostile names are only counted by their time", () => {
      // Relative to the script's working folder (a name cannot hold a slash).
      const hostile = ["$(touch canary)", "`touch canary`", `x\n${m.name} 9\n$(touch canary)`, "-newer x", "*"];
      hostile.forEach((name, i) => touch(name, 1750000000 + i));
      run();
      assert.equal(value(), 1750000000 + hostile.length - 1);
      const canaries = () => [tmp, snapshots, textfile].filter((d) => fs.existsSync(path.join(d, "canary")));
      assert.deepEqual(canaries(), [], "a file name ran a command");
      // The names are live: evaluated, the first one does create the canary.
      const evaluated = spawnSync("bash", ["-c", `eval "echo ${hostile[0]}"`], { cwd: tmp, encoding: "utf8" });
      assert.equal(evaluated.status, 0, evaluated.stderr);
      assert.deepEqual(canaries(), [tmp]);
    });
  });
});
