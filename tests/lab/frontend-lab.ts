/**
 * A live front tier in network namespaces, built from a plan: the balancers on a shared
 * front segment (a bridge in its own namespace), a client on that segment, and one
 * backend per planned upstream (a Kubernetes node's loopback on a second "fabric"
 * segment) standing in for the Istio ingress gateway: a tiny Nginx that answers with the
 * node's name and the X-Forwarded-* headers it got. Co-located balancers (dev) run their
 * backend in the balancer's own namespace, as on the real host.
 *
 * The balancers run the planned nginx.conf and keepalived.conf. Only these strings are
 * substituted (paths a namespace needs for itself, and the test certificate); everything
 * else is byte for byte the plan (see `SUBSTITUTED`):
 *   /run/nginx.pid                      -> <node>/nginx.pid
 *   /var/log/nginx/                     -> <node>/log/
 *   /var/lib/nginx/                     -> <node>/tmp/
 *   /etc/nginx/tls/frontend.crt|.key    -> the plan-only test pair (tests/fixtures)
 *   /etc/keepalived/frontend-auth.conf  -> <node>/frontend-auth.conf (a lab password; the
 *                                          planned include is secret, rendered by the same renderer)
 * keepalived gets its three pid files in <node>/ as flags. `net.ipv4.ip_nonlocal_bind=1`
 * is set in each balancer namespace, as the planned node baseline does on a balancer.
 */
import { spawn, spawnSync, type ChildProcess } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { FRONTEND_PATHS, renderVrrpAuth } from "../../components/frontend/render";
import type { PlanResult } from "../helpers/plan";
import { PROJECT_DIR } from "../helpers/plan";
import { cleanupStale as cleanupStaleNamespaces, isAlive, killNamespace, run, sleep, sleepSync } from "./netns";

export { run, sleep };

/** Namespaces of this suite are named `<BASE><pid>-<node>`; a pid that no longer runs marks a stale run. */
const BASE = "efe";
const CERT = path.join(PROJECT_DIR, "tests", "fixtures", "plan-only-tls.crt");
const KEY = path.join(PROJECT_DIR, "tests", "fixtures", "plan-only-tls.key");
export const TLS_NAME = "estate-plan-placeholder";

/** Deletes namespaces left by earlier runs of this suite whose process is gone. */
export function cleanupStale(): void {
  cleanupStaleNamespaces(BASE);
}

export interface Balancer {
  readonly name: string;
  readonly address: string;
  readonly priority: number;
  readonly nic: string;
  readonly loopback: string;
  readonly ns: string;
  readonly dir: string;
}

export interface Upstream {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly ns: string;
  readonly dir: string;
}

interface FrontendOutput {
  vip: string;
  balancers: { name: string; address: string; priority: number }[];
  ports: { https: number; http: number };
}

function ipToInt(a: string): number {
  return a.split(".").reduce((n, o) => n * 256 + Number(o), 0);
}
function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");
}

export class FrontendLab {
  readonly dir: string;
  readonly prefix: string;
  readonly sw: string;
  readonly client: string;
  readonly clientAddress: string;
  readonly vip: string;
  readonly prefixLength: number;
  readonly ports: { https: number; http: number };
  readonly balancers: Balancer[];
  readonly upstreams: Upstream[];
  /** What was substituted in the planned configs, for the test's report. */
  readonly substituted: [string, string][] = [];
  private readonly namespaces: string[] = [];
  private readonly children: ChildProcess[] = [];

  constructor(
    readonly stack: string,
    readonly plan: PlanResult,
  ) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `estate-frontend-lab-${stack}-`));
    this.prefix = `${BASE}${process.pid}-${stack}`;
    this.sw = `${this.prefix}-sw`;
    this.client = `${this.prefix}-client`;
    const out = plan.outputs.frontend as FrontendOutput;
    const nodes = plan.outputs.nodes as { name: string; loopback: string }[];
    this.vip = out.vip;
    this.ports = out.ports;
    const first = out.balancers[0].name;
    const ka = plan.artifact(`frontend/${first}/keepalived.conf`);
    const vipLine = new RegExp(`^\\s*${out.vip.replace(/\./g, "\\.")}/(\\d+) dev (\\S+)`, "m").exec(ka);
    if (!vipLine) throw new Error(`no VIP line in frontend/${first}/keepalived.conf`);
    this.prefixLength = Number(vipLine[1]);
    const size = 2 ** (32 - this.prefixLength);
    const network = ipToInt(out.vip) - (ipToInt(out.vip) % size);
    this.clientAddress = intToIp(network + size - 2);
    this.balancers = out.balancers.map((b) => {
      const text = plan.artifact(`frontend/${b.name}/keepalived.conf`);
      const nic = /^\s*interface (\S+)/m.exec(text)?.[1];
      if (!nic) throw new Error(`no interface in frontend/${b.name}/keepalived.conf`);
      const loopback = nodes.find((n) => n.name === b.name)?.loopback;
      if (!loopback) throw new Error(`no loopback for ${b.name} in the nodes output`);
      return { ...b, nic, loopback, ns: `${this.prefix}-${b.name}`, dir: path.join(this.dir, b.name) };
    });
    const nginx = plan.artifact(`frontend/${first}/nginx.conf`);
    this.upstreams = [...nginx.matchAll(/^\s*server (\d+\.\d+\.\d+\.\d+):(\d+) [^#\n]*# (\S+)$/gm)].map((m) => ({
      name: m[3],
      address: m[1],
      port: Number(m[2]),
      ns: `${this.prefix}-${m[3]}`,
      dir: path.join(this.dir, `backend-${m[3]}`),
    }));
    if (this.upstreams.length < 2) throw new Error(`${stack}: fewer than two upstreams in nginx.conf`);
  }

  exec(ns: string, script: string): string {
    return run("ip", ["netns", "exec", ns, "bash", "-c", `set -euo pipefail\n${script}`]);
  }

  private addNs(ns: string): void {
    if (this.namespaces.includes(ns)) return;
    run("ip", ["netns", "add", ns]);
    this.namespaces.push(ns);
    run("ip", ["-n", ns, "link", "set", "lo", "up"]);
  }

  /** Namespaces, links, addresses and routes. */
  build(): void {
    this.addNs(this.sw);
    for (const br of ["brf", "brk"]) {
      run("ip", ["-n", this.sw, "link", "add", br, "type", "bridge"]);
      run("ip", ["-n", this.sw, "link", "set", br, "up"]);
    }
    let port = 0;
    const attach = (ns: string, iface: string, bridge: string): void => {
      const peer = `p${port++}`;
      run("ip", ["link", "add", iface, "netns", ns, "type", "veth", "peer", "name", peer, "netns", this.sw]);
      run("ip", ["-n", this.sw, "link", "set", peer, "master", bridge, "up"]);
      run("ip", ["-n", ns, "link", "set", iface, "up"]);
    };
    // Front segment: balancers and the client.
    for (const b of this.balancers) {
      this.addNs(b.ns);
      attach(b.ns, b.nic, "brf");
      run("ip", ["-n", b.ns, "addr", "add", `${b.address}/${this.prefixLength}`, "dev", b.nic]);
      this.exec(b.ns, "sysctl -qw net.ipv4.ip_nonlocal_bind=1");
    }
    this.addNs(this.client);
    attach(this.client, "eth0", "brf");
    run("ip", ["-n", this.client, "addr", "add", `${this.clientAddress}/${this.prefixLength}`, "dev", "eth0"]);
    // Fabric segment: every balancer and upstream host by its loopback, /32 routes on the link.
    const fabricHosts = new Map<string, { ns: string; address: string }>();
    for (const b of this.balancers) fabricHosts.set(b.name, { ns: b.ns, address: b.loopback });
    for (const u of this.upstreams) {
      const bal = this.balancers.find((b) => b.name === u.name);
      if (bal && bal.loopback !== u.address) throw new Error(`${u.name}: upstream ${u.address} is not its loopback`);
      if (!bal) fabricHosts.set(u.name, { ns: u.ns, address: u.address });
    }
    for (const [, h] of fabricHosts) {
      this.addNs(h.ns);
      attach(h.ns, "fab0", "brk");
      run("ip", ["-n", h.ns, "addr", "add", `${h.address}/32`, "dev", "fab0"]);
    }
    for (const [, h] of fabricHosts)
      for (const [, o] of fabricHosts)
        if (o !== h) run("ip", ["-n", h.ns, "route", "add", `${o.address}/32`, "dev", "fab0", "src", h.address]);
  }

  /** The namespace an upstream's backend runs in (a co-located balancer's own). */
  upstreamNs(u: Upstream): string {
    return this.balancers.find((b) => b.name === u.name)?.ns ?? u.ns;
  }

  startBackend(u: Upstream): void {
    fs.mkdirSync(path.join(u.dir, "tmp"), { recursive: true });
    const conf = `worker_processes 1;
pid ${u.dir}/nginx.pid;
error_log ${u.dir}/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path ${u.dir}/tmp/body;
    proxy_temp_path ${u.dir}/tmp/proxy;
    fastcgi_temp_path ${u.dir}/tmp/fastcgi;
    uwsgi_temp_path ${u.dir}/tmp/uwsgi;
    scgi_temp_path ${u.dir}/tmp/scgi;
    server {
        listen ${u.address}:${u.port};
        default_type text/plain;
        return 200 "${u.name} xff=$http_x_forwarded_for proto=$http_x_forwarded_proto\\n";
    }
}
`;
    fs.writeFileSync(path.join(u.dir, "nginx.conf"), conf);
    this.exec(this.upstreamNs(u), `nginx -p ${u.dir}/ -e ${u.dir}/error.log -c ${u.dir}/nginx.conf`);
  }

  stopBackend(u: Upstream): void {
    this.stopByPidFile(path.join(u.dir, "nginx.pid"));
  }

  private stopByPidFile(file: string, signal: NodeJS.Signals = "SIGTERM"): void {
    if (!fs.existsSync(file)) return;
    const pid = Number(fs.readFileSync(file, "utf8").trim());
    if (!pid || !isAlive(pid)) return;
    process.kill(pid, signal);
    for (let i = 0; i < 100 && isAlive(pid); i++) sleepSync(20);
    if (isAlive(pid)) throw new Error(`pid ${pid} (${file}) did not exit on ${signal}`);
  }

  private substitute(text: string, pairs: [string, string][]): string {
    let out = text;
    for (const [from, to] of pairs) {
      if (!out.includes(from)) throw new Error(`planned config has no ${from} to substitute`);
      out = out.split(from).join(to);
      if (!this.substituted.some(([f]) => f === from)) this.substituted.push([from, to.replace(this.dir, "<run>")]);
    }
    return out;
  }

  /** Writes the planned configs with the allowed substitutions; returns the check outputs. */
  prepareBalancer(b: Balancer, vrrpPassword: string): void {
    for (const d of ["log", "tmp"]) fs.mkdirSync(path.join(b.dir, d), { recursive: true });
    run("chown", ["-R", "www-data", path.join(b.dir, "tmp")]);
    const nginx = this.substitute(this.plan.artifact(`frontend/${b.name}/nginx.conf`), [
      [FRONTEND_PATHS.nginxPid, `${b.dir}/nginx.pid`],
      [FRONTEND_PATHS.nginxLogDir, `${b.dir}/log/`],
      [FRONTEND_PATHS.nginxTempDir, `${b.dir}/tmp/`],
      [FRONTEND_PATHS.tlsCertificate, CERT],
      [FRONTEND_PATHS.tlsKey, KEY],
    ]);
    fs.writeFileSync(path.join(b.dir, "nginx.conf"), nginx);
    const ka = this.substitute(this.plan.artifact(`frontend/${b.name}/keepalived.conf`), [
      [FRONTEND_PATHS.vrrpAuth, `${b.dir}/frontend-auth.conf`],
    ]);
    fs.writeFileSync(path.join(b.dir, "keepalived.conf"), ka);
    fs.writeFileSync(path.join(b.dir, "frontend-auth.conf"), renderVrrpAuth(vrrpPassword), { mode: 0o600 });
  }

  nginxCheck(b: Balancer): void {
    this.exec(b.ns, `nginx -t -q -p ${b.dir}/ -e stderr -c ${b.dir}/nginx.conf`);
  }

  keepalivedCheck(b: Balancer): void {
    this.exec(b.ns, `keepalived -t -f ${b.dir}/keepalived.conf`);
  }

  startNginx(b: Balancer): void {
    this.exec(b.ns, `nginx -p ${b.dir}/ -e ${b.dir}/log/error.log -c ${b.dir}/nginx.conf`);
  }

  stopNginx(b: Balancer): void {
    this.stopByPidFile(path.join(b.dir, "nginx.pid"));
  }

  nginxRunning(b: Balancer): boolean {
    const f = path.join(b.dir, "nginx.pid");
    return fs.existsSync(f) && isAlive(Number(fs.readFileSync(f, "utf8").trim()));
  }

  startKeepalived(b: Balancer): void {
    const d = b.dir;
    this.exec(
      b.ns,
      `keepalived -n -l -D -P -f ${d}/keepalived.conf -p ${d}/keepalived.pid -r ${d}/vrrp.pid -c ${d}/checkers.pid ` +
        `>>${d}/keepalived.log 2>&1 </dev/null &`,
    );
  }

  stopKeepalived(b: Balancer): void {
    this.stopByPidFile(path.join(b.dir, "keepalived.pid"));
  }

  keepalivedLog(b: Balancer): string {
    const f = path.join(b.dir, "keepalived.log");
    return fs.existsSync(f) ? fs.readFileSync(f, "utf8") : "";
  }

  holdsVip(b: Balancer): boolean {
    return run("ip", ["-n", b.ns, "-4", "-o", "addr", "show", "dev", b.nic]).includes(` ${this.vip}/`);
  }

  /** The balancer that holds the VIP, waiting up to `ms`. */
  async waitForMaster(ms: number, among: readonly Balancer[] = this.balancers): Promise<Balancer> {
    const end = Date.now() + ms;
    for (;;) {
      const m = among.find((b) => this.holdsVip(b));
      if (m) return m;
      if (Date.now() > end) throw new Error(`no balancer took the VIP ${this.vip} within ${ms} ms`);
      await sleep(50);
    }
  }

  blackhole(b: Balancer, on: boolean): void {
    if (on)
      run(
        "ip",
        ["netns", "exec", b.ns, "nft", "-f", "-"],
        `table inet lab_blackhole {
  chain input { type filter hook input priority -500; policy drop; }
  chain forward { type filter hook forward priority -500; policy drop; }
  chain output { type filter hook output priority -500; policy drop; }
}
`,
      );
    else
      spawnSync("ip", ["netns", "exec", b.ns, "nft", "delete", "table", "inet", "lab_blackhole"], { stdio: "ignore" });
  }

  httpsUrl(p = "/"): string {
    return `https://${TLS_NAME}${this.ports.https === 443 ? "" : `:${this.ports.https}`}${p}`;
  }

  curlTls(): string[] {
    return ["--cacert", CERT, "--resolve", `${TLS_NAME}:${this.ports.https}:${this.vip}`];
  }

  /** From the client: `curl` with `args`; returns stdout. */
  curl(args: readonly string[]): string {
    return run("ip", ["netns", "exec", this.client, "curl", "-sS", "-m", "3", ...args]);
  }

  /**
   * Starts a probe loop in the client namespace: one HTTPS request through the VIP every
   * ~10 ms (0.25 s timeout), one line per request: `<epoch s> <http code> <backend>`.
   */
  startProbe(file: string): ChildProcess {
    const tls = this.curlTls().join(" ");
    const script = `export LC_ALL=C
end=$((SECONDS+30))
while (( SECONDS < end )); do
  out=$(curl -sS -m 0.25 ${tls} -w ' %{http_code}' ${this.httpsUrl()} 2>/dev/null) || true
  echo "$EPOCHREALTIME \${out##* } \${out%% *}"
  sleep 0.01
done >${file}
`;
    const child = spawn("ip", ["netns", "exec", this.client, "bash", "-c", script], { stdio: "ignore" });
    this.children.push(child);
    return child;
  }

  /** The lines an access log has now (to see which balancer served). */
  accessLines(b: Balancer): number {
    const f = path.join(b.dir, "log", "access.log");
    return fs.existsSync(f) ? fs.readFileSync(f, "utf8").split("\n").filter(Boolean).length : 0;
  }

  teardown(): void {
    for (const c of this.children) if (c.exitCode === null) c.kill("SIGKILL");
    for (const ns of [...this.namespaces].reverse()) killNamespace(ns);
    this.namespaces.length = 0;
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface ProbeResult {
  readonly failoverMs: number;
  readonly failed: number;
  readonly okAfter: number;
  readonly backends: ReadonlySet<string>;
}

/**
 * Outage as the largest gap between successful replies from `t0` on (lab notes: not lost
 * requests x interval), and the requests that failed after `t0`.
 */
export function analyzeProbe(file: string, t0: number): ProbeResult {
  const lines = fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => l.split(" "))
    .map(([t, code, backend]) => ({ t: Number(t), ok: code === "200", backend: backend ?? "" }));
  const lastBefore = [...lines].reverse().find((l) => l.ok && l.t <= t0);
  let prev = lastBefore?.t ?? t0;
  let gap = 0;
  let failed = 0;
  let okAfter = 0;
  const backends = new Set<string>();
  for (const l of lines) {
    if (l.t <= t0) continue;
    if (!l.ok) {
      failed++;
      continue;
    }
    okAfter++;
    backends.add(l.backend);
    gap = Math.max(gap, l.t - prev);
    prev = l.t;
  }
  return { failoverMs: Math.round(gap * 1000), failed, okAfter, backends };
}
