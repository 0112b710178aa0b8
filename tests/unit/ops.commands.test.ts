/**
 * `npm run ops -- <command>` on the outputs of the dev plan, and on malformed and hostile
 * outputs: every command validates first, names the bad field and writes nothing.
 * The files `inventory` writes are read back by OpenSSH itself (`ssh -G`, `ssh-keygen -F`);
 * a real login with them is tests/lab/ops.ssh.test.ts.
 */
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import * as yaml from "js-yaml";
import { parsePreflightFacts } from "../../components/node/output";
import { compareCeph } from "../../ops/commands/ceph";
import { compareFabric, expectedSessions, parseBgpSummary } from "../../ops/commands/fabric";
import { checkHealth, healthTable } from "../../ops/commands/health";
import type { StackOutputs } from "../../ops/contract";
import { preflightStdout } from "../helpers/applied-outputs";
import { listFiles, ops, opsProcess, outputsFile, tmpDir } from "../helpers/ops";
import { planStack, PROJECT_DIR } from "../helpers/plan";
import { requireTool } from "../helpers/tools";

const KUBECONFIG = (cluster: string, server: string): string => `apiVersion: v1
kind: Config
clusters:
- name: ${cluster}
  cluster:
    server: ${server}
    certificate-authority-data: Q0E=
users:
- name: admin
  user:
    client-key-data: S0VZ
`;

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
const fixture = (f: string): string => path.join(PROJECT_DIR, "tests", "fixtures", "ceph16", f);

describe("ops commands", function () {
  this.timeout(120000);
  let dev: StackOutputs;
  let dir: string;
  let devFile: string;

  before(() => {
    dev = planStack("dev").outputs as unknown as StackOutputs;
    dir = tmpDir("estate-ops");
    devFile = outputsFile(dir, dev);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe("inventory", () => {
    it("reads stdin as `npm run ops -- inventory --out <dir> < outputs.json` and writes three files", () => {
      const out = path.join(dir, "from-stdin");
      const r = opsProcess(["inventory", "--out", out], JSON.stringify(dev));
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(listFiles(out), ["hosts.yml", "known_hosts", "ssh_config"]);
      assert.equal(fs.statSync(out).mode & 0o777, 0o700);
    });

    it("gives OpenSSH a Host per server and switch with the pinned key under its alias", async () => {
      requireTool("ssh", "openssh-client");
      requireTool("ssh-keygen", "openssh-client");
      const out = path.join(dir, "inv");
      const r = await ops(["inventory", "--file", devFile, "--out", out, "--identity-file", "/keys/estate dev"]);
      assert.equal(r.status, 0, r.stderr);
      const hosts = [...dev.nodes, ...dev.switches];
      assert.equal(hosts.length, 6);
      for (const h of hosts) {
        const g = execFileSync("ssh", ["-G", "-F", path.join(out, "ssh_config"), h.name], { encoding: "utf8" });
        const opt = (k: string): string => (new RegExp(`^${k} (.*)$`, "m").exec(g) ?? [])[1];
        assert.equal(opt("hostname"), h.ssh.host);
        assert.equal(opt("port"), String(h.ssh.port));
        assert.equal(opt("user"), h.ssh.user);
        assert.equal(opt("stricthostkeychecking"), "true");
        assert.equal(opt("hostkeyalias"), `${h.name}.${dev.site.domain}`);
        assert.equal(opt("userknownhostsfile"), path.join(out, "known_hosts"));
        assert.equal(opt("globalknownhostsfile"), "/dev/null");
        assert.equal(opt("identityfile"), "/keys/estate dev");
        const found = execFileSync(
          "ssh-keygen",
          ["-F", `${h.name}.${dev.site.domain}`, "-f", path.join(out, "known_hosts")],
          {
            encoding: "utf8",
          },
        );
        assert.ok(found.includes(h.ssh.hostKey), `${h.name}: pinned key in known_hosts`);
      }
    });

    it("groups the Ansible inventory by role, rack and kind, and carries preflight's facts once known", async () => {
      const withFacts = clone(dev);
      withFacts.nodes[0].facts = parsePreflightFacts("srv-1", preflightStdout("srv-1"));
      const out = path.join(dir, "inv-facts");
      const r = await ops(["inventory", "--file", outputsFile(dir, withFacts, "facts.json"), "--out", out]);
      assert.equal(r.status, 0, r.stderr);
      const inv = yaml.load(fs.readFileSync(path.join(out, "hosts.yml"), "utf8")) as {
        all: {
          hosts: Record<string, Record<string, unknown>>;
          children: Record<string, { hosts: Record<string, null> }>;
        };
      };
      const members = (g: string): string[] => Object.keys(inv.all.children[g]?.hosts ?? {});
      assert.deepEqual(members("k8s_server"), ["srv-1", "srv-2", "srv-3"]);
      assert.deepEqual(members("lb"), ["srv-1", "srv-2"]);
      assert.deepEqual(members("ceph_rgw"), ["srv-1"]);
      assert.deepEqual(members("spine"), ["spine-1"]);
      assert.deepEqual(members("leaf"), ["leaf-1a", "leaf-1b"]);
      assert.deepEqual(members("switches"), ["spine-1", "leaf-1a", "leaf-1b"]);
      assert.deepEqual(members("rack_r1"), ["srv-1", "srv-2", "srv-3"]);
      assert.equal(inv.all.hosts["srv-1"].ansible_host, "srv-1");
      assert.equal((inv.all.hosts["srv-1"].estate_facts as { cores: number }).cores, 64);
      assert.equal(inv.all.hosts["srv-2"].estate_facts, undefined, "unknown facts are left out");
    });
  });

  describe("kubeconfig", () => {
    it("refuses the plan's unknown kubeconfig and a hidden secret, writing nothing", async () => {
      for (const [value, why] of [
        ["[unknown]", /outputs\/kubeconfig: unknown until `pulumi up` ran/],
        ["[secret]", /outputs\/kubeconfig: a secret not shown: run `pulumi stack output --json --show-secrets`/],
      ] as const) {
        const file = path.join(dir, "kc-none", "config");
        const r = await ops([
          "kubeconfig",
          "--file",
          outputsFile(dir, { ...dev, kubeconfig: value }, "kc.json"),
          "--out",
          file,
        ]);
        assert.equal(r.status, 1);
        assert.match(r.stderr, why);
        assert.equal(fs.existsSync(path.dirname(file)), false);
      }
    });

    it("writes 0600, rewrites the same cluster's file, keeps another cluster's unless --force", async () => {
      const file = path.join(dir, "kube", "estate-dev");
      const mine = outputsFile(
        dir,
        { ...dev, kubeconfig: KUBECONFIG("default", "https://10.120.0.10:6443") },
        "mine.json",
      );
      let r = await ops(["kubeconfig", "--file", mine, "--out", file]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^created /);
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      r = await ops(["kubeconfig", "--file", mine, "--out", file]);
      assert.match(r.stdout, /^updated /);

      const other = KUBECONFIG("default", "https://10.9.9.9:6443");
      fs.writeFileSync(file, other, { mode: 0o644 });
      r = await ops(["kubeconfig", "--file", mine, "--out", file]);
      assert.equal(r.status, 1);
      assert.match(
        r.stderr,
        /holds cluster default https:\/\/10\.9\.9\.9:6443, not default https:\/\/10\.120\.0\.10:6443 of stack dev; choose another --out, or --force/,
      );
      assert.equal(fs.readFileSync(file, "utf8"), other, "left alone");
      r = await ops(["kubeconfig", "--file", mine, "--out", file, "--force"]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^replaced /);
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      assert.match(fs.readFileSync(file, "utf8"), /10\.120\.0\.10:6443/);
    });
  });

  describe("health", () => {
    it("runs the checks in parallel, each bounded by the timeout, and fails on any failure", async () => {
      // A socket that accepts and never answers (no TLS, no HTTP) stands in for every endpoint.
      const sockets: net.Socket[] = [];
      const silent = net.createServer((s) => void sockets.push(s));
      await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
      const port = (silent.address() as net.AddressInfo).port;
      const o = clone(dev);
      o.frontend.vip = "127.0.0.1";
      o.frontend.ports.https = port;
      o.kubernetes.apiEndpoint.url = `https://127.0.0.1:${port}`;
      o.ceph.rgwEndpoints = [`http://127.0.0.1:${port}`, `http://127.0.0.1:${port}`];
      const started = Date.now();
      try {
        const results = await checkHealth(o, { timeoutMs: 400, grafanaUrl: `http://127.0.0.1:${port}` });
        const took = Date.now() - started;
        assert.deepEqual(
          results.map((r) => `${r.check} ${r.status} ${r.detail}`),
          ["vip", "kubernetes", "grafana", "rgw", "rgw"].map((c) => `${c} FAIL timed out after 400 ms`),
        );
        assert.ok(took < 1500, `five 400 ms checks took ${took} ms: not in parallel`);
        assert.match(healthTable(results).split("\n")[0], /^CHECK\s+TARGET\s+STATUS\s+MS\s+DETAIL$/);
      } finally {
        for (const s of sockets) s.destroy();
        silent.close();
      }
    });
  });

  describe("fabric", () => {
    const established = (o: StackOutputs, host: string): string => {
      const peers = Object.fromEntries(
        expectedSessions(o)
          .get(host)!
          .map((s) => [s.peer, { remoteAs: s.remoteAs, state: "Established", peerState: "OK", hostname: s.remote }]),
      );
      return JSON.stringify({ ipv4Unicast: { routerId: "10.0.0.1", as: 1, peers }, ipv6Unicast: {} });
    };

    it("lists the expected sessions of dev: every link, both ends, by interface (unnumbered)", async () => {
      const want = expectedSessions(dev);
      assert.deepEqual(
        [...want].map(([h, s]) => `${h} ${s.length}`),
        ["spine-1 2", "leaf-1a 4", "leaf-1b 4", "srv-1 2", "srv-2 2", "srv-3 2"],
      );
      assert.deepEqual(
        want.get("srv-1")!.map((s) => `${s.peer} ${s.remote} ${s.remoteAs}`),
        ["ens1f0 leaf-1a 65100", "ens1f1 leaf-1b 65101"],
      );
      const r = await ops(["fabric", "--file", devFile]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^srv-1: 2 session\(s\)\n {2}ens1f0 +-> leaf-1a \(AS 65100\)$/m);
    });

    it("finds missing, down, wrong-AS and unexpected sessions", async () => {
      const leaf = JSON.parse(established(dev, "leaf-1a"));
      delete leaf.ipv4Unicast.peers.swp2;
      leaf.ipv4Unicast.peers.swp1.state = "Active";
      leaf.ipv4Unicast.peers.swp3.remoteAs = 65999;
      leaf.ipv4Unicast.peers.swp9 = { remoteAs: 65000, state: "Established" };
      const files = {
        "leaf-1a": outputsFile(dir, leaf, "leaf-1a.json"),
        "srv-1": outputsFile(dir, established(dev, "srv-1"), "srv-1.json"),
      };
      const r = await ops([
        "fabric",
        "--file",
        devFile,
        "--bgp",
        `leaf-1a=${files["leaf-1a"]}`,
        "--bgp",
        `srv-1=${files["srv-1"]}`,
      ]);
      assert.equal(r.status, 1);
      assert.deepEqual(r.stdout.split("\n"), [
        "leaf-1a: session swp1 to srv-1 is Active",
        "leaf-1a: missing session swp2 to srv-2 (AS 4200000001)",
        "leaf-1a: session swp3 to srv-3 has peer AS 65999, expected 4200000002",
        "leaf-1a: unexpected session swp9 (Established, AS 65000)",
        "fabric: 4 problem(s) on 2 host(s) checked (leaf-1a, srv-1); not checked: spine-1, leaf-1b, srv-2, srv-3",
      ]);
      const ok = await ops(["fabric", "--file", devFile, "--bgp", `srv-1=${files["srv-1"]}`]);
      assert.equal(ok.status, 0, ok.stdout);
    });

    it("keys sessions by the neighbour's address on a numbered fabric", () => {
      const o = clone(dev);
      o.fabric.numbered = true;
      o.fabric.links.forEach((l, i) => {
        l.a.address = `10.254.0.${2 * i}/31`;
        l.b.address = `10.254.0.${2 * i + 1}/31`;
      });
      assert.deepEqual(
        expectedSessions(o)
          .get("spine-1")!
          .map((s) => s.peer),
        ["10.254.0.0", "10.254.0.2"],
      );
      const report = compareFabric(o, new Map([["spine-1", parseBgpSummary(established(o, "spine-1"), "x")]]));
      assert.deepEqual(report.problems, []);
    });

    it("refuses a summary that is not FRR's, and a host the fabric does not have", async () => {
      let r = await ops([
        "fabric",
        "--file",
        devFile,
        "--bgp",
        `srv-1=${outputsFile(dir, '{"ipv4Unicast":{"peers":{"x":{"state":3}}}}', "bad.json")}`,
      ]);
      assert.equal(r.status, 1);
      assert.match(
        r.stderr,
        /bad\.json: ipv4Unicast\.peers\.x\.state: Invalid input: expected string, received number/,
      );
      r = await ops(["fabric", "--file", devFile, "--bgp", `srv-9;reboot=${outputsFile(dir, "{}", "e.json")}`]);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /--bgp: "srv-9;reboot" is not a switch or server of the fabric/);
    });
  });

  describe("ceph", () => {
    it("passes dev's pools against a Ceph 16 cluster that has them, rule and class included", async () => {
      const r = await ops([
        "ceph",
        "--file",
        devFile,
        "--pools",
        fixture("osd-pool-ls-detail.json"),
        "--rules",
        fixture("osd-crush-rule-dump.json"),
      ]);
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /note: pool device_health_metrics: not an estate RBD pool/);
      assert.match(r.stdout, /ceph: 0 problem\(s\) in 1 planned pool\(s\)$/);
    });

    it("finds a missing pool, a wrong size and min_size, a wrong device class", () => {
      const pools = JSON.parse(fs.readFileSync(fixture("osd-pool-ls-detail.json"), "utf8"));
      const rules = fs.readFileSync(fixture("osd-crush-rule-dump.json"), "utf8");
      const hot = pools.find((p: { pool_name: string }) => p.pool_name === "kube-hot");
      Object.assign(hot, { size: 2, min_size: 1, crush_rule: 2 });
      const o = clone(dev);
      o.ceph.pools.push({ name: "kube-warm", deviceClass: "hdd", size: 3, minSize: 2 });
      assert.deepEqual(compareCeph(o, JSON.stringify(pools), "pools", rules).problems, [
        "pool kube-hot: size 2, expected 3",
        "pool kube-hot: min_size 1, expected 2",
        "pool kube-hot: CRUSH rule warm takes class hdd, expected nvme",
        "pool kube-warm: missing (expected size 3, min_size 2, class hdd)",
      ]);
      assert.deepEqual(
        compareCeph(o, JSON.stringify(pools), "pools").notes[0],
        "device classes not checked: add --rules <file of `ceph osd crush rule dump -f json`>",
      );
    });

    it("refuses input that is not the pool listing", async () => {
      const r = await ops([
        "ceph",
        "--file",
        devFile,
        "--pools",
        outputsFile(dir, [{ pool_name: "x", size: "3" }], "p.json"),
      ]);
      assert.equal(r.status, 1);
      assert.match(
        r.stderr,
        /p\.json: 0\.size: Invalid input: expected number, received string; give `ceph osd pool ls detail -f json`/,
      );
    });
  });

  describe("malformed and hostile outputs: refused, naming the field, nothing written", () => {
    const hostile: [string, (o: StackOutputs) => void, RegExp][] = [
      [
        "a host name with shell metacharacters",
        (o) => (o.nodes[0].name = "srv-1;rm -rf ~"),
        /outputs\/nodes\/0\/name: must match pattern/,
      ],
      [
        "a newline and a second key in a host key",
        (o) => (o.nodes[1].ssh.hostKey = `${o.nodes[1].ssh.hostKey}\nevil.example ssh-ed25519 AAAA`),
        /outputs\/nodes\/1\/ssh\/hostKey: must match pattern/,
      ],
      [
        "a directive smuggled into the SSH user",
        (o) => (o.switches[0].ssh.user = "estate\n  ProxyCommand sh"),
        /outputs\/switches\/0\/ssh\/user: must match pattern/,
      ],
      [
        "a host that is an option",
        (o) => (o.nodes[2].ssh.host = "-oProxyCommand=sh"),
        /outputs\/nodes\/2\/ssh\/host: must match pattern/,
      ],
      [
        "a port as a string",
        (o) => ((o.nodes[0].ssh as { port: unknown }).port = "22"),
        /outputs\/nodes\/0\/ssh\/port: must be integer/,
      ],
      ["no nodes at all", (o) => ((o as { nodes: unknown }).nodes = {}), /outputs\/nodes: must be array/],
      ["another major version", (o) => (o.schemaVersion = "2.0.0"), /outputs\/schemaVersion: must match pattern/],
      [
        "an unknown field",
        (o) => ((o.site as Record<string, unknown>).extra = 1),
        /outputs\/site: must NOT have additional properties/,
      ],
    ];
    const commands = (out: string): string[][] => [
      ["inventory", "--out", path.join(out, "inv")],
      ["kubeconfig", "--out", path.join(out, "kube")],
      ["health", "--timeout", "100"],
      ["fabric"],
      ["ceph", "--pools", fixture("osd-pool-ls-detail.json")],
    ];
    for (const [what, mutate, want] of hostile)
      it(what, async () => {
        const o = clone(dev);
        mutate(o);
        const file = outputsFile(dir, o, "hostile.json");
        const out = path.join(dir, "hostile-out");
        for (const argv of commands(out)) {
          const r = await ops([argv[0], "--file", file, ...argv.slice(1)]);
          assert.equal(r.status, 1, `${argv[0]}: ${r.stdout}`);
          assert.match(r.stderr, want, argv[0]);
          assert.equal(r.stdout, "", `${argv[0]} printed nothing else`);
          assert.deepEqual(listFiles(out), [], `${argv[0]} wrote nothing`);
        }
      });

    it("not JSON, and a path ssh could not take", async () => {
      let r = await ops(["inventory", "--file", outputsFile(dir, "{nope", "nope.json"), "--out", path.join(dir, "x")]);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /nope\.json: not JSON/);
      const out = path.join(dir, 'we"ird');
      r = await ops(["inventory", "--file", devFile, "--out", out]);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /--out: ".*we\\"ird\/known_hosts" has a quote, backslash or control character/);
      assert.equal(fs.existsSync(out), false);
    });
  });
});
