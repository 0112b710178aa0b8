/**
 * The ops commands against live labs (issue 12 §2): the CLI runs as a user runs it
 * (`ts-node ops/cli.ts`, outputs from the dev plan), its clients inside network
 * namespaces the test made (no traffic from the host namespace).
 *
 * - inventory: a real sshd (Debian's openssh-server) in a namespace, answering on the
 *   address and port the dev plan gives srv-1, with a generated ed25519 host key pinned in
 *   the outputs; `ssh -F <out>/ssh_config` from a client namespace logs in with
 *   StrictHostKeyChecking yes, and refuses when another key is pinned.
 * - fabric: the dev fabric in real FRR (FabricLab); `show bgp summary json` of every switch
 *   and server checked by `ops fabric`: nothing missing when converged; with a leaf
 *   blackholed, exactly the sessions to that leaf (both ends) named, exit 1.
 * - health: the dev front tier (FrontendLab: the planned Nginx + keepalived on the VIP);
 *   stand-ins for what is not the front tier (an API server behind the planned stream
 *   proxy, an RGW and a Grafana), `ops health` from the lab's client: every row ok, exit 0;
 *   the backends stopped: the VIP fails with HTTP 502; Nginx stopped on both balancers: the
 *   VIP and the API fail, exit 1, each check within its timeout.
 *
 * Needs root. Figures: `figure ops.ssh.login <ms> ms`, `figure ops.fabric.sessions <n>
 * sessions`, `figure ops.fabric.blackhole.down <n> sessions`, `figure ops.health.wall <ms>
 * ms` (and `.backends_stopped`, `.nginx_stopped`).
 */
import * as assert from "assert";
import { spawn, spawnSync, type ChildProcess } from "child_process";
import * as fs from "fs";
import * as path from "path";
import type { StackOutputs } from "../../ops/contract";
import { opsProcess, outputsFile, tmpDir } from "../helpers/ops";
import { planStack, PROJECT_DIR } from "../helpers/plan";
import { requireTool } from "../helpers/tools";
import { cleanupStale as cleanupStaleFabric, FabricLab, type FabricTopology } from "./fabric-lab";
import { cleanupStale as cleanupStaleFrontend, FrontendLab, TLS_NAME } from "./frontend-lab";
import { selfSignedCertificate } from "./certs";
import { cleanupStale, killNamespace, run, sleep } from "./netns";

/** This suite's own namespaces: `<BASE><pid>-<name>` (the labs it uses name theirs). */
const BASE = "eops";
const FIXTURE_CERT = path.join(PROJECT_DIR, "tests", "fixtures", "plan-only-tls.crt");

function requireRoot(what: string): void {
  if (process.getuid?.() !== 0) throw new Error(`${what} needs root (network namespaces)`);
}

function devOutputs(): StackOutputs {
  return structuredClone(planStack("dev").outputs) as unknown as StackOutputs;
}

function figure(name: string, value: number, unit: string): void {
  console.log(`figure ${name} ${value} ${unit}`);
}

/** Every test's teardown also on Ctrl-C / a CI timeout. */
const teardowns = new Set<() => void>();
function onSignal(sig: NodeJS.Signals): void {
  for (const t of teardowns) t();
  process.exit(sig === "SIGINT" ? 130 : 143);
}
function guard(teardown: () => void): () => void {
  if (teardowns.size === 0) {
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
  }
  teardowns.add(teardown);
  return () => {
    teardowns.delete(teardown);
    teardown();
    if (teardowns.size === 0) {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
  };
}

describe("ops inventory, live: ssh -F into a real sshd with the pinned host key", function () {
  this.timeout(60000);
  const sshdNs = `${BASE}${process.pid}-sshd`;
  const clientNs = `${BASE}${process.pid}-client`;
  /** An address of no plan: the client's end of the link. */
  const CLIENT = "198.51.100.1";
  let dir = "";
  let sshd: ChildProcess | undefined;
  let sshdLog = "";
  let madePrivsep = false;
  let outputs: StackOutputs;
  let release = (): void => {};

  const teardown = (): void => {
    if (sshd && sshd.exitCode === null) sshd.kill("SIGKILL");
    killNamespace(sshdNs);
    killNamespace(clientNs);
    if (madePrivsep) fs.rmSync("/run/sshd", { recursive: true, force: true });
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  };

  const keygen = (file: string, comment: string): string => {
    run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file]);
    return fs.readFileSync(`${file}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" ");
  };

  before(async function () {
    requireRoot("the ssh lab");
    requireTool("/usr/sbin/sshd", "openssh-server");
    requireTool("ssh", "openssh-client");
    requireTool("ssh-keygen", "openssh-client");
    requireTool("ip", "iproute2");
    cleanupStale(BASE);
    release = guard(teardown);
    dir = tmpDir("estate-ops-ssh");
    outputs = devOutputs();
    const node = outputs.nodes[0];
    assert.match(node.ssh.host, /^\d+\.\d+\.\d+\.\d+$/, "the dev plan gives srv-1's SSH address");
    const hostKey = keygen(path.join(dir, "ssh_host_ed25519_key"), "lab host key");
    keygen(path.join(dir, "id_ed25519"), "lab user key");
    fs.copyFileSync(path.join(dir, "id_ed25519.pub"), path.join(dir, "authorized_keys"));
    // The lab's sshd lets root in by key (no test user on this machine); the rest is srv-1 as planned.
    outputs.nodes[0] = { ...node, ssh: { ...node.ssh, user: "root", hostKey } };

    // Two namespaces, one veth: the sshd on the planned address, the client on another.
    for (const ns of [sshdNs, clientNs]) {
      run("ip", ["netns", "add", ns]);
      run("ip", ["-n", ns, "link", "set", "lo", "up"]);
    }
    run("ip", ["link", "add", "s0", "netns", sshdNs, "type", "veth", "peer", "name", "c0", "netns", clientNs]);
    for (const [ns, dev, own, peer] of [
      [sshdNs, "s0", node.ssh.host, CLIENT],
      [clientNs, "c0", CLIENT, node.ssh.host],
    ]) {
      run("ip", ["-n", ns, "addr", "add", `${own}/32`, "dev", dev]);
      run("ip", ["-n", ns, "link", "set", dev, "up"]);
      run("ip", ["-n", ns, "route", "add", `${peer}/32`, "dev", dev]);
    }

    // sshd wants its privilege separation directory (the package's tmpfiles.d makes it at boot).
    if (!fs.existsSync("/run/sshd")) {
      fs.mkdirSync("/run/sshd", { mode: 0o755 });
      madePrivsep = true;
    }
    const cfg = path.join(dir, "sshd_config");
    fs.writeFileSync(
      cfg,
      [
        `ListenAddress ${node.ssh.host}:${node.ssh.port}`,
        `HostKey ${dir}/ssh_host_ed25519_key`,
        `PidFile ${dir}/sshd.pid`,
        `AuthorizedKeysFile ${dir}/authorized_keys`,
        "PermitRootLogin prohibit-password",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        // The run folder is below /tmp (world-writable): StrictModes would refuse the keys file there.
        "StrictModes no",
        "",
      ].join("\n"),
    );
    run("ip", ["netns", "exec", sshdNs, "/usr/sbin/sshd", "-t", "-f", cfg]);
    sshd = spawn("ip", ["netns", "exec", sshdNs, "/usr/sbin/sshd", "-D", "-e", "-f", cfg], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    sshd.stderr!.on("data", (d: Buffer) => (sshdLog += d.toString()));
    const end = Date.now() + 10000;
    while (!/Server listening on/.test(sshdLog)) {
      if (sshd.exitCode !== null || Date.now() > end) throw new Error(`sshd did not start:\n${sshdLog}`);
      await sleep(50);
    }
  });

  after(() => release());

  /** `ssh -F <out>/ssh_config <host> true` from the client namespace. */
  const ssh = (out: string, host: string): { status: number; stderr: string; ms: number } => {
    const t0 = Date.now();
    const r = spawnSync(
      "ip",
      [
        "netns",
        "exec",
        clientNs,
        "ssh",
        "-F",
        path.join(out, "ssh_config"),
        "-i",
        path.join(dir, "id_ed25519"),
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=5",
        host,
        "true",
      ],
      { encoding: "utf8", timeout: 20000, stdio: ["ignore", "pipe", "pipe"] },
    );
    return { status: r.status ?? -1, stderr: r.stderr, ms: Date.now() - t0 };
  };

  it("the written ssh_config logs in with the pinned host key (StrictHostKeyChecking yes)", async function () {
    const out = path.join(dir, "inventory");
    const w = opsProcess(
      ["inventory", "--out", out, "--identity-file", path.join(dir, "id_ed25519")],
      JSON.stringify(outputs),
    );
    assert.equal(w.status, 0, w.stderr);
    const config = fs.readFileSync(path.join(out, "ssh_config"), "utf8");
    assert.match(config, /^ {2}StrictHostKeyChecking yes$/m);
    const r = ssh(out, outputs.nodes[0].name);
    assert.equal(r.status, 0, `ssh failed:\n${r.stderr}\nsshd:\n${sshdLog}`);
    // sshd's log arrives on this process's event loop, after spawnSync returned.
    for (let i = 0; i < 40 && !/Accepted publickey/.test(sshdLog); i++) await sleep(50);
    assert.match(sshdLog, /Accepted publickey for root from 198\.51\.100\.1 /);
    figure("ops.ssh.login", r.ms, "ms");
  });

  it("another pinned key: ssh refuses the host (Host key verification failed)", function () {
    const wrong = keygen(path.join(dir, "other_host_key"), "not the lab's key");
    const node = outputs.nodes[0];
    const pinnedWrong = {
      ...outputs,
      nodes: [{ ...node, ssh: { ...node.ssh, hostKey: wrong } }, ...outputs.nodes.slice(1)],
    };
    const out = path.join(dir, "inventory-wrong");
    const w = opsProcess(
      ["inventory", "--out", out, "--identity-file", path.join(dir, "id_ed25519")],
      JSON.stringify(pinnedWrong),
    );
    assert.equal(w.status, 0, w.stderr);
    const r = ssh(out, node.name);
    assert.notEqual(r.status, 0, "ssh logged in although another host key was pinned");
    assert.match(r.stderr, /Host key verification failed/);
  });
});

describe("ops fabric, live: the dev fabric's real `show bgp summary json`", function () {
  this.timeout(120000);
  let lab: FabricLab | undefined;
  let outputs: StackOutputs;
  let dir = "";
  let release = (): void => {};

  before(function () {
    requireRoot("the fabric lab");
    for (const [cmd, pkg] of [
      ["/usr/lib/frr/zebra", "frr"],
      ["/usr/lib/frr/bgpd", "frr"],
      ["/usr/lib/frr/bfdd", "frr"],
      ["vtysh", "frr"],
      ["ip", "iproute2"],
      ["nft", "nftables"],
    ])
      requireTool(cmd, pkg);
    cleanupStaleFabric();
    const plan = planStack("dev");
    outputs = devOutputs();
    dir = tmpDir("estate-ops-fabric");
    lab = new FabricLab("ops-dev", outputs.fabric as unknown as FabricTopology);
    const l = lab;
    release = guard(() => {
      l.teardown();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    lab.build();
    const started = Date.now();
    lab.start(new Map(plan.ofKind("frr").map((e) => [e.target, plan.artifact(e.path)])));
    lab.waitConverged(started);
  });

  after(() => release());

  const hosts = (): string[] => [...lab!.spines, ...lab!.leaves, ...lab!.servers];

  /** Each host's `vtysh -c 'show bgp summary json'` into `<dir>/<tag>/<host>.json`; `ops fabric` on all. */
  const check = (tag: string): { status: number; stdout: string; stderr: string } => {
    const d = path.join(dir, tag);
    fs.mkdirSync(d);
    const args = ["fabric", "--file", outputsFile(dir, outputs)];
    for (const h of hosts()) {
      const file = path.join(d, `${h}.json`);
      fs.writeFileSync(file, lab!.vtysh(h, "show bgp summary json"));
      args.push("--bgp", `${h}=${file}`);
    }
    return opsProcess(args, "");
  };

  /** The sessions a problem line names, as `<host> <peer>`. */
  const named = (stdout: string): string[] =>
    stdout
      .split("\n")
      .filter((l) => !l.startsWith("fabric: "))
      .filter(Boolean)
      .map((l) => {
        const m = /^(\S+): (?:missing session|session) (\S+) to \S+ /.exec(l);
        assert.ok(m, `not a session problem: ${l}`);
        return `${m[1]} ${m[2]}`;
      })
      .sort();

  it("converged: every expected session of every switch and server is there and Established", function () {
    const r = check("converged");
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.deepEqual(named(r.stdout), []);
    assert.match(r.stdout, new RegExp(`^fabric: 0 problem\\(s\\) on ${hosts().length} host\\(s\\) checked`, "m"));
    assert.doesNotMatch(r.stdout, /not checked/);
    figure("ops.fabric.sessions", 2 * outputs.fabric.links.length, "sessions");
  });

  it("a leaf blackholed: exactly the sessions to that leaf, both ends, are named; exit 1", async function () {
    const l = lab!;
    const leaf = l.leaves[0];
    const links = outputs.fabric.links.filter((k) => k.a.node === leaf || k.b.node === leaf);
    assert.ok(links.length >= 3, `${leaf} has uplinks and servers`);
    const want = links.flatMap((k) => [`${k.a.node} ${k.a.iface}`, `${k.b.node} ${k.b.iface}`]).sort();
    l.blackhole(leaf);
    // Until every session to the leaf is down on both ends (BFD: well under a second).
    const down = (): boolean =>
      links.every((k) =>
        [k.a, k.b].every((end) => {
          const s = JSON.parse(l.vtysh(end.node, "show bgp summary json")) as {
            ipv4Unicast?: { peers?: Record<string, { state: string }> };
          };
          return s.ipv4Unicast?.peers?.[end.iface]?.state !== "Established";
        }),
      );
    const end = Date.now() + 20000;
    while (!down()) {
      if (Date.now() > end) throw new Error(`the sessions to ${leaf} did not drop within 20 s`);
      await sleep(200);
    }
    const r = check("blackholed");
    assert.equal(r.status, 1, `${r.stdout}\n${r.stderr}`);
    assert.deepEqual(named(r.stdout), want, r.stdout);
    console.log(r.stdout.trimEnd().replace(/^/gm, "      "));
    figure("ops.fabric.blackhole.down", want.length, "sessions");
  });
});

describe("ops health, live: the dev front tier's VIP over HTTPS, from the lab's client", function () {
  this.timeout(120000);
  const TIMEOUT_MS = 3000;
  let lab: FrontendLab | undefined;
  let outputs: StackOutputs;
  let dir = "";
  let bundle = "";
  let grafana = "";
  let release = (): void => {};

  /** A stand-in Nginx in `ns` with the given server blocks. */
  const standIn = (ns: string, name: string, servers: string): void => {
    const d = path.join(dir, name);
    fs.mkdirSync(path.join(d, "tmp"), { recursive: true });
    fs.writeFileSync(
      path.join(d, "nginx.conf"),
      `worker_processes 1;
pid ${d}/nginx.pid;
error_log ${d}/error.log warn;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path ${d}/tmp/body;
    proxy_temp_path ${d}/tmp/proxy;
    fastcgi_temp_path ${d}/tmp/fastcgi;
    uwsgi_temp_path ${d}/tmp/uwsgi;
    scgi_temp_path ${d}/tmp/scgi;
    default_type application/json;
${servers}
}
`,
    );
    run("ip", ["netns", "exec", ns, "nginx", "-p", `${d}/`, "-e", `${d}/error.log`, "-c", `${d}/nginx.conf`]);
  };

  before(async function () {
    requireRoot("the front-tier lab");
    const tools: [string, string][] = [
      ["nginx", "nginx"],
      ["keepalived", "keepalived"],
      ["nft", "nftables"],
      ["openssl", "openssl"],
      ["ip", "iproute2"],
    ];
    if (tools.some(([cmd]) => spawnSync("sh", ["-c", `command -v ${cmd}`]).status !== 0))
      if (!fs.existsSync("/usr/sbin/policy-rc.d"))
        // Package scripts must not start the daemons in the host namespace (no systemd here).
        fs.writeFileSync("/usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n", { mode: 0o755 });
    for (const [cmd, pkg] of tools) requireTool(cmd, pkg);
    cleanupStaleFrontend();
    outputs = devOutputs();
    dir = tmpDir("estate-ops-health");
    fs.chmodSync(dir, 0o755);
    lab = new FrontendLab("dev", planStack("dev"));
    const l = lab;
    release = guard(() => {
      l.teardown();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    l.build();
    for (const u of l.upstreams) l.startBackend(u);

    // The API servers behind the planned stream proxy: TLS for the endpoint's name, 401 to anonymous.
    const api = outputs.kubernetes.apiEndpoint;
    const { cert: crt, key } = selfSignedCertificate(dir, "api", api.name);
    // --ca: the plan-only fixture the VIP serves, and the stand-in API's certificate.
    bundle = path.join(dir, "ca.pem");
    fs.writeFileSync(bundle, fs.readFileSync(FIXTURE_CERT, "utf8") + fs.readFileSync(crt, "utf8"));
    const servers = outputs.nodes.filter((n) => n.roles.includes("k8s-server"));
    assert.ok(servers.length > 0);
    const rgw = new URL(outputs.ceph.rgwEndpoints[0]);
    const rgwNode = outputs.nodes.find((n) => n.loopback === rgw.hostname);
    assert.ok(rgwNode, `the RGW endpoint ${rgw.href} is a node's loopback`);
    const nsOf = (name: string): string => {
      const u = l.upstreams.find((x) => x.name === name);
      if (!u) throw new Error(`${name} has no namespace in the front-tier lab`);
      return l.upstreamNs(u);
    };
    const apiServer = (addr: string): string => `    server {
        listen ${addr}:${api.port} ssl;
        ssl_certificate ${crt};
        ssl_certificate_key ${key};
        location / { return 401 '{"kind":"Status","code":401}'; }
    }`;
    // RGW and Grafana on the RGW node's loopback; the client reaches it through that node's front address.
    const balancer = l.balancers.find((b) => b.name === rgwNode.name);
    assert.ok(balancer, `${rgwNode.name} (the RGW) is a balancer in dev: the client reaches its loopback`);
    grafana = `http://${rgw.hostname}:3000`;
    for (const n of servers) {
      const extra =
        n.name === rgwNode.name
          ? `
    server { listen ${rgw.hostname}:${rgw.port}; location / { return 200 '<ListAllMyBucketsResult/>'; } }
    server { listen ${rgw.hostname}:3000; location = /api/health { return 200 '{"database":"ok"}'; } }`
          : "";
      standIn(nsOf(n.name), `standin-${n.name}`, apiServer(n.loopback) + extra);
    }
    run("ip", ["-n", l.client, "route", "add", `${rgw.hostname}/32`, "via", balancer.address]);

    for (const b of l.balancers) {
      l.prepareBalancer(b);
      l.loadFilter(b);
      l.startNginx(b);
    }
    for (const b of l.balancers) l.startKeepalived(b);
    const top = [...l.balancers].sort((a, b) => b.priority - a.priority)[0];
    await l.waitForMaster(10000, [top]);
  });

  after(() => release());

  interface Row {
    status: string;
    ms: number;
    detail: string;
  }

  /** `ops health` in the client namespace; the table's rows by check (rgw by target). */
  const health = (): { status: number; rows: Map<string, Row>; wallMs: number; stdout: string } => {
    const t0 = Date.now();
    const r = opsProcess(
      [
        "health",
        "--file",
        outputsFile(dir, outputs),
        "--ca",
        bundle,
        "--tls-name",
        TLS_NAME,
        "--grafana",
        grafana,
        "--timeout",
        String(TIMEOUT_MS),
      ],
      "",
      ["ip", "netns", "exec", lab!.client],
    );
    const wallMs = Date.now() - t0;
    const lines = r.stdout.trim().split("\n");
    assert.match(lines[0] ?? "", /^CHECK +TARGET +STATUS +MS +DETAIL$/, `${r.stdout}\n${r.stderr}`);
    const rows = new Map<string, Row>();
    for (const line of lines.slice(1)) {
      const m = /^(\S+) +(\S+(?: \(\S+\))?) +(ok|FAIL|n\/a) +(\d+) +(.*)$/.exec(line);
      assert.ok(m, `not a table row: ${line}`);
      rows.set(m[1], { status: m[3], ms: Number(m[4]), detail: m[5] });
    }
    return { status: r.status, rows, wallMs, stdout: r.stdout };
  };

  const assertBounded = (h: ReturnType<typeof health>): void => {
    for (const [check, row] of h.rows) assert.ok(row.ms <= TIMEOUT_MS + 500, `${check} took ${row.ms} ms`);
  };

  it("healthy: the VIP, the API behind the stream proxy, the RGW and Grafana ok; exit 0", function () {
    const h = health();
    assert.deepEqual(
      [...h.rows].map(([c, r]) => `${c} ${r.status}`),
      ["vip ok", "kubernetes ok", "grafana ok", "rgw ok"],
      h.stdout,
    );
    assert.equal(h.rows.get("vip")!.detail, "HTTP 200");
    assert.match(h.rows.get("kubernetes")!.detail, /^HTTP 401 \(no kubeconfig shown/);
    assert.equal(h.status, 0, h.stdout);
    assertBounded(h);
    figure("ops.health.wall", h.wallMs, "ms");
  });

  it("the backends stopped: the balancers answer 502, the VIP check fails; exit 1", function () {
    const l = lab!;
    for (const u of l.upstreams) l.stopBackend(u);
    try {
      const h = health();
      assert.equal(h.rows.get("vip")!.status, "FAIL", h.stdout);
      assert.equal(h.rows.get("vip")!.detail, "HTTP 502", h.stdout);
      for (const c of ["kubernetes", "grafana", "rgw"]) assert.equal(h.rows.get(c)!.status, "ok", `${c}: ${h.stdout}`);
      assert.equal(h.status, 1);
      assertBounded(h);
      figure("ops.health.wall.backends_stopped", h.wallMs, "ms");
    } finally {
      for (const u of l.upstreams) l.startBackend(u);
    }
  });

  it("Nginx stopped on both balancers: the VIP and the API fail within the timeout; exit 1", function () {
    const l = lab!;
    for (const b of l.balancers) l.stopNginx(b);
    const h = health();
    console.log(h.stdout.trimEnd().replace(/^/gm, "      "));
    for (const c of ["vip", "kubernetes"]) assert.equal(h.rows.get(c)!.status, "FAIL", `${c}: ${h.stdout}`);
    for (const c of ["grafana", "rgw"]) assert.equal(h.rows.get(c)!.status, "ok", `${c}: ${h.stdout}`);
    assert.equal(h.status, 1);
    assertBounded(h);
    figure("ops.health.wall.nginx_stopped", h.wallMs, "ms");
  });
});
